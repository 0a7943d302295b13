#!/bin/sh
# gpu_check.sh - the OpenCL exemplar kernels on an NVIDIA GPU (issue 7), in one
# short run (< 4 minutes; about 1-2 minutes expected on an H200).
#
# Needs only: the prebuilt build/bench/bench_cluster_gpu (static except for
# libOpenCL/libc/libm, built on the dev machine, see man/betlab-ocl.inc or the
# command below), kernels/exemplar.cl, an OpenCL ICD loader and NVIDIA's
# libnvidia-opencl.so.1; optionally python3 with PyTorch for the baseline.
#   gcc -std=c11 -D_GNU_SOURCE -O2 -pthread -Isrc -DCL_TARGET_OPENCL_VERSION=300 \
#       -o build/bench/bench_cluster_gpu tests/bench/bench_cluster_gpu.c build/libbetlab.a \
#       -static-libgcc -Wl,-Bstatic -lz -Wl,-Bdynamic -lOpenCL -lm -lpthread
# Results: $OUT/gpu_results.txt (or ./gpu_results.txt without $OUT).
set -u
OUT=${OUT:-.}
RES="$OUT/gpu_results.txt"
BIN=${BIN:-build/bench/bench_cluster_gpu}
: > "$RES"
log() { echo "$*" | tee -a "$RES"; }

# (1) NVIDIA's ICD
mkdir -p /tmp/icd
echo /usr/lib/libnvidia-opencl.so.1 > /tmp/icd/nvidia.icd
[ -e /usr/lib/libnvidia-opencl.so.1 ] || for p in /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/lib64/libnvidia-opencl.so.1; do
    [ -e "$p" ] && { echo "$p" > /tmp/icd/nvidia.icd; break; }
done
export OCL_ICD_VENDORS=/tmp/icd
export BETLAB_HOME="$PWD"                    # kernels/exemplar.cl
export XDG_CACHE_HOME=/tmp/betlab-gpu-cache  # binary cache (first run: miss)

log "== gpu_check $(date -u +%FT%TZ) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/nvidia-smi: /' | tee -a "$RES"
log "ICD: $(cat /tmp/icd/nvidia.icd)"
ldd "$BIN" 2>&1 | sed 's/^/ldd: /' | tee -a "$RES"

# (2)+(3) correctness vs the double CPU reference (fp64 1e-12, fp32 1e-5, fp16 1e-2;
# fp16 at N = 65,537 and 70,001 without cl_khr_fp16)
log "== check"
timeout 90 "$BIN" --device opencl:nvidia check > /tmp/gpu_check.out 2>&1; rc=$?
cat /tmp/gpu_check.out | tee -a "$RES"; log "check exit: $rc"

# (4) timings: fp32 gains (1e5,100,1024) (1e6,100,1024) (1e5,1000,1024), direct and
# dot distance forms; f(S) N=25,000 d=50 |S|=5,000 fp16/fp32/fp64; second run hits the cache
log "== time (targets: 1.8 / 16 / 5.8 ms; published CUDA f(S) 8.8 / 42.8 / 116 ms)"
timeout 120 "$BIN" --device opencl:nvidia full > /tmp/gpu_time.out 2>&1; rc=$?
cat /tmp/gpu_time.out | tee -a "$RES"; log "time exit: $rc"

# (5) PyTorch fp32 cdist + min + sum on the same GPU, same shapes (optional)
log "== pytorch baseline"
timeout 60 python3 - <<'PY' 2>&1 | tee -a "$RES"
import torch, time
dev = "cuda"
torch.manual_seed(0)
def med(fn, reps=20):
    fn(); torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    ts.sort(); return ts[len(ts)//2]
print("torch", torch.__version__, torch.cuda.get_device_name(0))
for (N, d, M) in [(100000, 100, 1024), (1000000, 100, 1024), (100000, 1000, 1024)]:
    V = torch.rand(N, d, device=dev) * 8 - 4
    S = V[torch.arange(10, device=dev) * 7919 % N]
    mins = torch.minimum((V * V).sum(1), torch.cdist(V, S).pow(2).min(1).values)
    C = V[(torch.arange(M, device=dev) * 104729 + 11) % N]
    g = lambda: torch.clamp(mins[:, None] - torch.cdist(V, C).pow(2), min=0).sum(0) / N
    print(f"torch gains fp32 N={N} d={d} M={M} median {med(g):.3f} ms")
    del V, C, S, mins
    torch.cuda.empty_cache()
N, d, k = 25000, 50, 5000
V = torch.rand(N, d, device=dev) * 8 - 4
S = V[(torch.arange(k, device=dev) * 2654435761) % N]
for dt in (torch.float16, torch.float32, torch.float64):
    Vt, St = V.to(dt), S.to(dt)
    f = lambda: ((Vt * Vt).sum(1) - torch.minimum((Vt * Vt).sum(1), torch.cdist(Vt, St).pow(2).min(1).values)).mean()
    try:
        print(f"torch f(S) {dt} N={N} d={d} |S|={k} median {med(f, 5):.3f} ms")
    except Exception as e:
        print(f"torch f(S) {dt}: {e}")
PY
log "== done $(date -u +%FT%TZ)"
