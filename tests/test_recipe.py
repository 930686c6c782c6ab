"""The canonical recipe: validation naming the bad field, one encoding, strict parsing."""

from __future__ import annotations

import dataclasses
import json

import pytest

from circuits.recipe import (
    MAX_CANONICAL_BYTES,
    DataSpec,
    ModelSpec,
    QuantSpec,
    Recipe,
    RecipeError,
    TrainSpec,
)


def make(**overrides) -> Recipe:
    """A small valid recipe; ``overrides`` maps a section to a dict of its replaced fields."""
    sections = {
        "data": DataSpec(),
        "model": ModelSpec(widths=(64, 32, 10)),
        "train": TrainSpec(batch_size=64, steps=3, lr_num=(205, 205, 100)),
        "quant": QuantSpec(),
    }
    top = {"name": "digits-mlp", "seed": 7}
    for key, value in overrides.items():
        if key in sections:
            sections[key] = dataclasses.replace(sections[key], **value)
        else:
            top[key] = value
    return Recipe(**top, **sections)


CANONICAL = (
    b'{"data":{"binding":"private","classes":10,"features":64,"input_bits":17,"input_signed":false,'
    b'"label_bits":17,"rows":0,"sha256":"","source":"digits"},"model":{"activation":"relu","bias":true,"init":"seeded","kind":"mlp",'
    b'"widths":[64,32,10]},"name":"digits-mlp","quant":{"frac_bits":16,"lr_shift":16,'
    b'"value_bits":32,"weight_bits":56},"seed":7,"semantics":1,"train":{"batch_size":64,'
    b'"loss":"mse","lr_num":[205,205,100],"optimizer":"sgd","steps":3}}'
)


def test_canonical_encoding_is_pinned_and_round_trips():
    recipe = make()
    assert recipe.to_canonical_json() == CANONICAL
    assert Recipe.from_canonical_json(CANONICAL) == recipe
    assert Recipe.from_dict(json.loads(CANONICAL)) == recipe


def test_defaults_are_the_recommended_quantization():
    q = QuantSpec()
    assert (q.frac_bits, q.lr_shift, q.value_bits, q.rescale_bits) == (16, 16, 32, 48)
    d = DataSpec()
    assert (d.input_bits, d.input_signed, d.label_bits) == (17, False, 17)


def test_encoding_holds_no_floats():
    def walk(value):
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(json.loads(make().to_canonical_json()))


def test_digest_depends_on_every_field():
    base = make()
    assert base.digest() == make().digest()
    assert make(seed=8).digest() != base.digest()
    assert make(train={"lr_num": (205, 205, 101)}).digest() != base.digest()


def _mutate(text: str, old: str, new: str) -> bytes:
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    "old, new, reason",
    [
        ('"seed":7', '"seed": 7', "canonical"),  # whitespace
        ('"seed":7', '"seed":7.0', "non-integer"),
        ('"seed":7', '"seed":7e0', "non-integer"),
        ('"seed":7', '"seed":NaN', "non-integer"),
        ('"seed":7', '"seed":-0', "canonical"),  # -0 parses as 0, whose encoding differs
        ('"seed":7', '"seed":true', "seed: must be an integer"),
        ('"bias":true', '"bias":1', "model.bias"),
        ('"frac_bits":16', '"frac_bits":"16"', "quant.frac_bits"),
        ('"seed":7', '"seed":7,"seed":7', "duplicate key"),
        ('"seed":7', '"seed":7,"extra":1', "extra: unknown field"),
        ('"seed":7,', "", "seed: missing"),
        ('"source":"digits"', '"source":"digits","gain":2', "data.gain: unknown field"),
        ('"widths":[64,32,10]', '"widths":{"0":64}', "model.widths"),
        ('"name":"digits-mlp"', '"name":"digits\\u002dmlp"', "canonical"),  # escaped '-'
    ],
)
def test_non_canonical_or_invalid_bytes_are_rejected(old, new, reason):
    with pytest.raises(RecipeError, match=reason):
        Recipe.from_canonical_json(_mutate(CANONICAL.decode(), old, new))


def test_key_order_trailing_bytes_and_encodings_are_rejected():
    data = json.loads(CANONICAL)
    unsorted = json.dumps(dict(reversed(list(data.items()))), separators=(",", ":")).encode()
    for raw in (unsorted, CANONICAL + b"\n", CANONICAL + b" ", b"\xef\xbb\xbf" + CANONICAL):
        with pytest.raises(RecipeError):
            Recipe.from_canonical_json(raw)
    with pytest.raises(RecipeError, match="not canonical ASCII JSON"):
        Recipe.from_canonical_json(CANONICAL.replace(b"digits-mlp", "digits-\u00e9".encode()))
    with pytest.raises(RecipeError, match="top level"):
        Recipe.from_canonical_json(b"[1]")
    with pytest.raises(RecipeError, match="exceeds the limit"):
        Recipe.from_canonical_json(b" " * (MAX_CANONICAL_BYTES + 1))
    with pytest.raises(RecipeError, match="expected bytes"):
        Recipe.from_canonical_json(CANONICAL.decode())


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": ""}, "name"),
        ({"name": "a b"}, "name"),
        ({"seed": -1}, "seed"),
        ({"seed": 1 << 64}, "seed"),
        ({"semantics": 2}, "semantics"),
        ({"data": {"source": "imagenet"}}, "data.source"),
        ({"data": {"input_bits": 0}}, "data.input_bits"),
        ({"data": {"input_bits": 33}}, "data.input_bits"),  # above value_bits
        ({"data": {"input_signed": 0}}, "data.input_signed"),
        ({"data": {"label_bits": 16}}, "data.label_bits"),  # 2^R needs R + 1 bits
        ({"data": {"features": 63}}, "model.widths"),
        ({"data": {"classes": 9}}, "model.widths"),
        ({"data": {"binding": "owned"}}, "data.binding"),
        ({"data": {"rows": 5}}, "data.rows"),  # private data has no rows
        ({"data": {"sha256": "ab" * 32}}, "data.sha256"),  # nor a digest
        ({"data": {"binding": "public", "sha256": "ab" * 32}}, "data.rows"),
        ({"data": {"binding": "public", "rows": 100}}, "data.sha256"),
        ({"data": {"binding": "committed", "rows": 100, "sha256": "AB" * 32}}, "data.sha256"),
        ({"data": {"binding": "public", "rows": 63, "sha256": "ab" * 32}}, "data.rows"),  # < batch
        ({"data": {"binding": "public", "rows": 100, "sha256": "ab" * 32},
          "train": {"steps": 4000, "lr_num": (1,) * 4000}}, "data.binding"),  # stream over the limit
        ({"model": {"widths": (64,)}}, "model.widths"),
        ({"model": {"widths": [64, 10]}}, "model.widths"),
        ({"model": {"widths": (64, 0, 10)}}, r"model.widths\[1\]"),
        ({"model": {"activation": "gelu"}}, "model.activation"),
        ({"model": {"init": "random"}}, "model.init"),
        ({"model": {"kind": "cnn"}}, "model.kind"),
        ({"model": {"bias": None}}, "model.bias"),
        ({"train": {"batch_size": 0}}, "train.batch_size"),
        ({"train": {"steps": 2}}, "train.lr_num"),
        ({"train": {"lr_num": (205, -1, 3)}}, r"train.lr_num\[1\]"),
        ({"train": {"lr_num": (205, 1 << 31, 3)}}, r"train.lr_num\[1\]"),
        ({"train": {"lr_num": (205, 2.5, 3)}}, r"train.lr_num\[1\]"),
        ({"train": {"loss": "hinge"}}, "train.loss"),
        ({"train": {"loss": "cross_entropy"}, "quant": {"value_bits": 33}}, "train.loss"),  # exp takes d < 2^32
        ({"train": {"optimizer": "adam"}}, "train.optimizer"),
        ({"quant": {"frac_bits": 0}}, "quant.frac_bits"),
        ({"quant": {"lr_shift": 0}}, "quant.lr_shift"),
        ({"quant": {"value_bits": 17}}, "quant.value_bits"),  # needs R + 2
        ({"quant": {"weight_bits": 63}}, "quant.weight_bits"),
        ({"quant": {"frac_bits": 20, "lr_shift": 17}}, "quant.lr_shift"),  # S = 57
        # Seeded W_0 of the 32-wide layer reaches 2^48 / sqrt(32) > 2^45: 46 bits are too few.
        ({"quant": {"weight_bits": 46}}, "quant.weight_bits"),
    ],
)
def test_invalid_fields_are_named(overrides, field):
    with pytest.raises(RecipeError, match=f"^{field}"):
        make(**overrides)


def test_bound_data_carries_rows_and_digest():
    recipe = make(data={"binding": "committed", "rows": 1437, "sha256": "0f" * 32})
    assert recipe.data.bound and Recipe.from_canonical_json(recipe.to_canonical_json()) == recipe
    assert not make().data.bound


def test_widths_just_inside_the_limits_are_accepted():
    make(data={"input_bits": 32, "label_bits": 32}, quant={"weight_bits": 47})
    make(data={"label_bits": 21}, quant={"frac_bits": 20, "lr_shift": 16})  # S = 56
    make(model={"init": "committed"}, quant={"weight_bits": 2})  # committed W_0: any width


def _huge(steps: int, lr: int) -> Recipe:
    wide = 1 << 20
    return Recipe(
        name="huge",
        seed=0,
        data=DataSpec(features=wide, classes=2, input_bits=62, input_signed=True, label_bits=62),
        model=ModelSpec(widths=(wide, 2)),
        train=TrainSpec(batch_size=1 << 16, steps=steps, lr_num=(lr,) * steps),
        quant=QuantSpec(frac_bits=16, lr_shift=16, value_bits=62, weight_bits=62),
    )


def test_recipes_whose_relations_could_pass_2_250_are_refused():
    # Product bound: d 2^61 Sigma B 2^61 (2^61 + 2^62), about 2^(20+61+16+61+63) Sigma = 2^221 Sigma.
    _huge(steps=1, lr=1)
    with pytest.raises(RecipeError, match=r"^recipe: product values could reach 2\^2\d\d or more, beyond 2\^250"):
        _huge(steps=1 << 9, lr=(1 << 31) - 1)


def test_nesting_is_bounded_before_parsing():
    """Deep nesting is refused by a byte scan, never handed to json's recursive decoder (which
    crashed the process once py_ecc had raised the recursion limit)."""
    deep = CANONICAL.replace(b'"seed":7', b'"seed":' + b"[" * 5 + b"7" + b"]" * 5)
    with pytest.raises(RecipeError, match="^recipe: JSON nested deeper than 4$"):
        Recipe.from_canonical_json(deep)
    shallow = CANONICAL.replace(b'"seed":7', b'"seed":[7]')  # depth 2 inside: parsed, then refused as a seed
    with pytest.raises(RecipeError, match="^seed: must be an integer"):
        Recipe.from_canonical_json(shallow)
