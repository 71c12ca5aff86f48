{
  "variables": {
    "seal_dnnl%": "<!(node -p \"require('fs').existsSync('/usr/include/oneapi/dnnl/dnnl.hpp') ? 1 : 0\")",
    "seal_openblas%": "<!(node -p \"process.env.SEAL_BLAS === 'none' ? 0 : ['/usr/include', '/usr/local/include', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu'].some(function (d) { return require('fs').existsSync(d + '/cblas.h'); }) ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "seal_sgemm",
      "type": "static_library",
      "sources": ["src/sgemm.cc", "src/sgemm_blocked.cc", "src/sgemm_isa.cc"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-fno-math-errno", "-fno-trapping-math"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math"] }
    },
    {
      "target_name": "seal_native",
      "dependencies": ["seal_sgemm"],
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
      "conditions": [
        ["seal_openblas==1", { "defines": ["SEAL_OPENBLAS"], "libraries": ["-lopenblas"] }],
        ["seal_dnnl==1", { "defines": ["SEAL_DNNL"], "libraries": ["-ldnnl"] }]
      ]
    }
  ]
}
