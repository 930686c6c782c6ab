// Fr (the BLS12-381 scalar field, r < 2^255) in CUDA C: the hottest kernels of the `cuda`
// backend (prover/backends/cuda/kernels.py), for CuPy's RawModule (NVRTC) or nvcc. The
// backend loads them through prover/backends/cuda/rawmodule.py (its ENTRIES table names every
// entry point it launches and packs their arguments) when CuPy and a device are present.
//
// Layout and arithmetic are the numba kernels' (prover/backends/cuda/field.py): an element is
// a row of eight little-endian 32-bit limbs (32 bytes), Montgomery form with R = 2^256, i.e.
// the bytes of the CPU backend's uint64[n, 4] rows. Multiplication is the CIOS method (Koc,
// Acar and Kaliski, "Analyzing and Comparing Montgomery Multiplication Algorithms", IEEE Micro
// 1996) with gnark-crypto's no-carry shortcut (the top limb of r, 0x73eda753, is below
// (2^32 - 1)/2 - 1); each limb product is a 32 x 32 -> 64-bit product ((u64)a * b, which nvcc
// emits as mul.wide.u32), sums never exceed 2^64 - 1, and the final subtraction is a select.
// Portable C only (no inline PTX yet): the same functions compile for the host, where
// tests/test_backends.py checks them against Python ints and tests/test_cuda_rawmodule.py
// drives the host twins through the loader (build with -DFR_HOST_TEST).
//
// No headers (NVRTC), extern "C" entry points, 64-bit element indices throughout.

typedef unsigned int u32;
typedef unsigned long long u64;

#define FR_LIMBS 8
#define FR_NPRIME 0xffffffffu  // -r^-1 mod 2^32

#if defined(__CUDACC__)
#define FR_FN __host__ __device__ __forceinline__
#else
#define FR_FN static inline
#endif

struct fr_t {
    u32 l[FR_LIMBS];
};

// r, little-endian 32-bit limbs.
#define FR_Q {0x00000001u, 0xffffffffu, 0xfffe5bfeu, 0x53bda402u, 0x09a1d805u, 0x3339d808u, 0x299d7d48u, 0x73eda753u}

// t - r if t >= r else t, for t < 2r; branch-free (a select per limb).
FR_FN fr_t fr_reduce_once(const u32 t[FR_LIMBS]) {
    const u32 q[FR_LIMBS] = FR_Q;
    u32 d[FR_LIMBS];
    u64 k = 1;  // 1 - borrow
#pragma unroll
    for (int j = 0; j < FR_LIMBS; j++) {
        u64 s = (u64)t[j] + (u64)(0xffffffffu - q[j]) + k;
        d[j] = (u32)s;
        k = s >> 32;
    }
    fr_t out;
#pragma unroll
    for (int j = 0; j < FR_LIMBS; j++) out.l[j] = k ? d[j] : t[j];
    return out;
}

// a + b mod r for reduced a, b (a + b < 2r < 2^256).
FR_FN fr_t fr_add(fr_t a, fr_t b) {
    u32 t[FR_LIMBS];
    u64 c = 0;
#pragma unroll
    for (int j = 0; j < FR_LIMBS; j++) {
        u64 s = (u64)a.l[j] + b.l[j] + c;
        t[j] = (u32)s;
        c = s >> 32;
    }
    return fr_reduce_once(t);
}

// a - b mod r for reduced a, b: the difference, plus r if it borrowed.
FR_FN fr_t fr_sub(fr_t a, fr_t b) {
    const u32 q[FR_LIMBS] = FR_Q;
    u32 d[FR_LIMBS], e[FR_LIMBS];
    u64 k = 1;
#pragma unroll
    for (int j = 0; j < FR_LIMBS; j++) {
        u64 s = (u64)a.l[j] + (u64)(0xffffffffu - b.l[j]) + k;
        d[j] = (u32)s;
        k = s >> 32;
    }
    u64 c = 0;
#pragma unroll
    for (int j = 0; j < FR_LIMBS; j++) {
        u64 s = (u64)d[j] + q[j] + c;
        e[j] = (u32)s;
        c = s >> 32;
    }
    fr_t out;
#pragma unroll
    for (int j = 0; j < FR_LIMBS; j++) out.l[j] = k ? d[j] : e[j];
    return out;
}

// The Montgomery product a b R^-1 mod r (no-carry CIOS) for reduced a, b.
FR_FN fr_t fr_mul(fr_t a, fr_t b) {
    const u32 q[FR_LIMBS] = FR_Q;
    u32 t[FR_LIMBS] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int i = 0; i < FR_LIMBS; i++) {
        u64 s = (u64)a.l[0] * b.l[i] + t[0];
        t[0] = (u32)s;
        u64 A = s >> 32;
        u32 m = t[0] * FR_NPRIME;  // mod 2^32
        u64 C = ((u64)m * q[0] + t[0]) >> 32;
#pragma unroll
        for (int j = 1; j < FR_LIMBS; j++) {
            s = (u64)a.l[j] * b.l[i] + t[j] + A;
            t[j] = (u32)s;
            A = s >> 32;
            s = (u64)m * q[j] + t[j] + C;
            t[j - 1] = (u32)s;
            C = s >> 32;
        }
        t[FR_LIMBS - 1] = (u32)(C + A);
    }
    return fr_reduce_once(t);
}

FR_FN fr_t fr_load(const u32* x, u64 i) {
    fr_t v;
#pragma unroll
    for (int k = 0; k < FR_LIMBS; k++) v.l[k] = x[i * FR_LIMBS + k];
    return v;
}

FR_FN void fr_store(u32* x, u64 i, fr_t v) {
#pragma unroll
    for (int k = 0; k < FR_LIMBS; k++) x[i * FR_LIMBS + k] = v.l[k];
}

// A scalar passed by value as the four 64-bit limbs of its Montgomery form (CPU layout).
FR_FN fr_t fr_from_u64x4(u64 r0, u64 r1, u64 r2, u64 r3) {
    fr_t v;
    const u64 w[4] = {r0, r1, r2, r3};
#pragma unroll
    for (int k = 0; k < 4; k++) {
        v.l[2 * k] = (u32)w[k];
        v.l[2 * k + 1] = (u32)(w[k] >> 32);
    }
    return v;
}

// One pair of a fold: v0 + r (v1 - v0).
FR_FN fr_t fr_fold_pair(fr_t v0, fr_t v1, fr_t r) { return fr_add(v0, fr_mul(r, fr_sub(v1, v0))); }

// One pair's terms of a 2-factor round: s[t] = f(t) g(t) for t = 0..2.
FR_FN void fr_round2_pair(fr_t f0, fr_t f1, fr_t g0, fr_t g1, fr_t s[3]) {
    s[0] = fr_mul(f0, g0);
    s[1] = fr_mul(f1, g1);
    s[2] = fr_mul(fr_add(f1, fr_sub(f1, f0)), fr_add(g1, fr_sub(g1, g0)));
}

// One pair's terms of a 3-factor round: s[t] = f(t) g(t) h(t) for t = 0..3.
FR_FN void fr_round3_pair(fr_t f0, fr_t f1, fr_t g0, fr_t g1, fr_t h0, fr_t h1, fr_t s[4]) {
    fr_t df = fr_sub(f1, f0), dg = fr_sub(g1, g0), dh = fr_sub(h1, h0);
    fr_t f = f0, g = g0, h = h0;
#pragma unroll
    for (int t = 0; t < 4; t++) {
        s[t] = fr_mul(fr_mul(f, g), h);
        f = fr_add(f, df);
        g = fr_add(g, dg);
        h = fr_add(h, dh);
    }
}

#if defined(__CUDACC__) && !defined(FR_HOST_TEST)

__device__ __forceinline__ u64 fr_thread_index() { return (u64)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ u64 fr_thread_count() { return (u64)gridDim.x * blockDim.x; }

// The block's tree over sh[thread * 4 + k] (blockDim.x a power of two), then one partial per
// block and point: partial[blockIdx.x * k_points + k].
__device__ void fr_block_reduce(u32* sh, u32* partial, u32 k_points) {
    const u32 tid = threadIdx.x;
    __syncthreads();
    for (u32 half = blockDim.x / 2; half > 0; half /= 2) {
        if (tid < half) {
            for (u32 k = 0; k < k_points; k++)
                fr_store(sh, tid * 4 + k, fr_add(fr_load(sh, tid * 4 + k), fr_load(sh, (tid + half) * 4 + k)));
        }
        __syncthreads();
    }
    for (u32 k = tid; k < k_points; k += blockDim.x)
        fr_store(partial, (u64)blockIdx.x * k_points + k, fr_load(sh, k));
}

extern "C" __global__ void fr_vec_mul(const u32* a, const u32* b, u32* out, u64 n) {
    for (u64 i = fr_thread_index(); i < n; i += fr_thread_count()) fr_store(out, i, fr_mul(fr_load(a, i), fr_load(b, i)));
}

// Block partials of sum_i a_i b_i over n elements (one point); launch with dynamic shared
// memory of blockDim.x * 4 * 32 bytes.
extern "C" __global__ void fr_inner_product(const u32* a, const u32* b, u32* partial, u64 n) {
    extern __shared__ u32 sh[];
    fr_t acc = {};
    for (u64 i = fr_thread_index(); i < n; i += fr_thread_count()) acc = fr_add(acc, fr_mul(fr_load(a, i), fr_load(b, i)));
    fr_store(sh, threadIdx.x * 4, acc);
    fr_block_reduce(sh, partial, 1);
}

// out[i] = v[2i] + r (v[2i+1] - v[2i]) for i < m (ping-pong: out never aliases v).
extern "C" __global__ void fr_fold(const u32* v, u64 r0, u64 r1, u64 r2, u64 r3, u32* out, u64 m) {
    const fr_t r = fr_from_u64x4(r0, r1, r2, r3);
    for (u64 i = fr_thread_index(); i < m; i += fr_thread_count())
        fr_store(out, i, fr_fold_pair(fr_load(v, 2 * i), fr_load(v, 2 * i + 1), r));
}

// Block partials of s(t) = sum_i f_i(t) g_i(t), t = 0..2, over m pairs; launch with dynamic
// shared memory of blockDim.x * 4 * 32 bytes.
extern "C" __global__ void fr_round_evals_2(const u32* f, const u32* g, u32* partial, u64 m) {
    extern __shared__ u32 sh[];
    fr_t acc[3] = {};
    for (u64 i = fr_thread_index(); i < m; i += fr_thread_count()) {
        fr_t s[3];
        fr_round2_pair(fr_load(f, 2 * i), fr_load(f, 2 * i + 1), fr_load(g, 2 * i), fr_load(g, 2 * i + 1), s);
#pragma unroll
        for (int t = 0; t < 3; t++) acc[t] = fr_add(acc[t], s[t]);
    }
#pragma unroll
    for (int t = 0; t < 3; t++) fr_store(sh, threadIdx.x * 4 + t, acc[t]);
    fr_block_reduce(sh, partial, 3);
}

// Block partials of s(t) = sum_i f_i(t) g_i(t) h_i(t), t = 0..3, over m pairs; launch with
// dynamic shared memory of blockDim.x * 4 * 32 bytes.
extern "C" __global__ void fr_round_evals_3(const u32* f, const u32* g, const u32* h, u32* partial, u64 m) {
    extern __shared__ u32 sh[];
    fr_t acc[4] = {};
    for (u64 i = fr_thread_index(); i < m; i += fr_thread_count()) {
        fr_t s[4];
        fr_round3_pair(fr_load(f, 2 * i), fr_load(f, 2 * i + 1), fr_load(g, 2 * i), fr_load(g, 2 * i + 1),
                       fr_load(h, 2 * i), fr_load(h, 2 * i + 1), s);
#pragma unroll
        for (int t = 0; t < 4; t++) acc[t] = fr_add(acc[t], s[t]);
    }
#pragma unroll
    for (int t = 0; t < 4; t++) fr_store(sh, threadIdx.x * 4 + t, acc[t]);
    fr_block_reduce(sh, partial, 4);
}

// Second level, one block: out[k] = sum_b partial[b k_points + k]; same shared memory.
extern "C" __global__ void fr_reduce_partials(const u32* partial, u64 blocks, u32 k_points, u32* out) {
    extern __shared__ u32 sh[];
    for (u32 k = 0; k < k_points; k++) {
        fr_t acc = {};
        for (u64 b = threadIdx.x; b < blocks; b += blockDim.x) acc = fr_add(acc, fr_load(partial, b * k_points + k));
        fr_store(sh, threadIdx.x * 4 + k, acc);
    }
    fr_block_reduce(sh, out, k_points);
}

#endif

#if defined(FR_HOST_TEST)
// Host entry points for the tests (n rows of 8 limbs each). fr_host_NAME has the argument list
// of the kernel fr_NAME and computes what a grid of one block computes (a reduction writes one
// block's partials), so tests/test_cuda_rawmodule.py drives them through the RawModule
// loader's argument packing.
extern "C" void fr_host_add(const u32* a, const u32* b, u32* out, u64 n) {
    for (u64 i = 0; i < n; i++) fr_store(out, i, fr_add(fr_load(a, i), fr_load(b, i)));
}
extern "C" void fr_host_sub(const u32* a, const u32* b, u32* out, u64 n) {
    for (u64 i = 0; i < n; i++) fr_store(out, i, fr_sub(fr_load(a, i), fr_load(b, i)));
}
extern "C" void fr_host_mul(const u32* a, const u32* b, u32* out, u64 n) {
    for (u64 i = 0; i < n; i++) fr_store(out, i, fr_mul(fr_load(a, i), fr_load(b, i)));
}
extern "C" void fr_host_vec_mul(const u32* a, const u32* b, u32* out, u64 n) { fr_host_mul(a, b, out, n); }
extern "C" void fr_host_inner_product(const u32* a, const u32* b, u32* partial, u64 n) {
    fr_t acc = {};
    for (u64 i = 0; i < n; i++) acc = fr_add(acc, fr_mul(fr_load(a, i), fr_load(b, i)));
    fr_store(partial, 0, acc);
}
extern "C" void fr_host_round_evals_2(const u32* f, const u32* g, u32* partial, u64 m) {
    fr_t acc[3] = {};
    for (u64 i = 0; i < m; i++) {
        fr_t s[3];
        fr_round2_pair(fr_load(f, 2 * i), fr_load(f, 2 * i + 1), fr_load(g, 2 * i), fr_load(g, 2 * i + 1), s);
        for (int t = 0; t < 3; t++) acc[t] = fr_add(acc[t], s[t]);
    }
    for (int t = 0; t < 3; t++) fr_store(partial, t, acc[t]);
}
extern "C" void fr_host_reduce_partials(const u32* partial, u64 blocks, u32 k_points, u32* out) {
    for (u32 k = 0; k < k_points; k++) {
        fr_t acc = {};
        for (u64 b = 0; b < blocks; b++) acc = fr_add(acc, fr_load(partial, b * k_points + k));
        fr_store(out, k, acc);
    }
}
extern "C" void fr_host_fold(const u32* v, u64 r0, u64 r1, u64 r2, u64 r3, u32* out, u64 m) {
    const fr_t r = fr_from_u64x4(r0, r1, r2, r3);
    for (u64 i = 0; i < m; i++) fr_store(out, i, fr_fold_pair(fr_load(v, 2 * i), fr_load(v, 2 * i + 1), r));
}
// out[4]: s(0..3) of the 3-factor round over m pairs (summed mod r).
extern "C" void fr_host_round_evals_3(const u32* f, const u32* g, const u32* h, u32* out, u64 m) {
    fr_t acc[4] = {};
    for (u64 i = 0; i < m; i++) {
        fr_t s[4];
        fr_round3_pair(fr_load(f, 2 * i), fr_load(f, 2 * i + 1), fr_load(g, 2 * i), fr_load(g, 2 * i + 1),
                       fr_load(h, 2 * i), fr_load(h, 2 * i + 1), s);
        for (int t = 0; t < 4; t++) acc[t] = fr_add(acc[t], s[t]);
    }
    for (int t = 0; t < 4; t++) fr_store(out, t, acc[t]);
}
#endif
