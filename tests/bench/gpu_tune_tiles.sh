mkdir -p /tmp/icd; echo /usr/lib/libnvidia-opencl.so.1 > /tmp/icd/nvidia.icd
export OCL_ICD_VENDORS=/tmp/icd BETLAB_HOME=$PWD XDG_CACHE_HOME=/tmp/c
for t in "128,128,16,8,8" "128,128,32,8,8" "128,128,8,8,8" "256,128,16,8,8" "128,256,16,8,8" "64,128,16,4,8" "128,64,32,8,8" "256,256,8,16,16" "128,128,16,8,16" "128,128,32,16,8"; do
  echo "TILE $t"; BETLAB_OCL_TILE=$t timeout 40 build/bench/bench_cluster_gpu --device opencl:nvidia wide 2>&1 | grep -E "gains|rror|FAIL" | sed 's/\[.*//'
done
