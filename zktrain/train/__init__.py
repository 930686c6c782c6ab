"""Float (plain PyTorch) training of a run file: ``zktrain train --run CONFIG``.

``config`` validates the YAML schema, ``builders`` holds the registries (models, layers,
optimizers, schedules, batch-size controllers, objectives), ``loop`` trains, and ``command`` is
the click command. Nothing is imported here, so ``zktrain`` starts without loading torch.
"""
