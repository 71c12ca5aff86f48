{
  "variables": {
    "seal_dnnl%": "<!(node -p \"require('fs').existsSync('/usr/include/oneapi/dnnl/dnnl.hpp') ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "seal_native",
      "sources": [
        "src/addon.cc",
        "src/pool.cc",
        "src/blas.cc",
        "src/bf16.cc",
        "src/elementwise.cc",
        "src/attention.cc",
        "src/misc.cc"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math"],
      "libraries": ["-lopenblas"],
      "conditions": [
        ["seal_dnnl==1", { "defines": ["SEAL_DNNL"], "libraries": ["-ldnnl"] }]
      ]
    }
  ]
}
