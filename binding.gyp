{
  "targets": [
    {
      "target_name": "tls_resumption",
      "sources": [
        "native/addon.cc",
        "native/context_access.cc",
        "native/cache_controls.cc",
        "native/self_signed.cc",
        "native/ticket_ring.cc",
        "native/ticket_ring_addon.cc",
        "native/session_inspect.cc",
        "native/session_der.cc",
        "native/crypto_providers.cc",
        "native/crypto_engines.cc",
        "native/shared_store.cc",
        "native/session_callbacks.cc",
        "native/session_id_tag.cc",
        "native/session_id_context.cc",
        "native/shared_store_bench.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      # No -std here: each Node line's common.gypi sets the standard its V8 headers need (gnu++17
      # on 20 and 22, gnu++20 on 24 and 26). -z now binds every symbol at dlopen, so a binary
      # built for another line fails to load with an error instead of killing the process at the
      # first call of a symbol this node lacks.
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "ldflags": ["-Wl,-z,now"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES" }
    },
    {
      # The load generator (tls-resumption/loadgen), a module of its own so servers never load
      # it. Named to sort after tls_resumption: node-gyp-build and prebuildify take the first
      # .node file in build/Release as the package's addon.
      "target_name": "tls_resumption_loadgen",
      "sources": [
        "native/loadgen/loadgen_addon.cc",
        "native/loadgen/population.cc",
        "native/loadgen/connection.cc",
        "native/loadgen/phase.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-pthread"],
      "ldflags": ["-pthread", "-Wl,-z,now"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES" }
    }
  ]
}
