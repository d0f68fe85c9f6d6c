{
  "targets": [
    {
      "target_name": "tls_resumption",
      "sources": [
        "native/addon.cc",
        "native/common/context_access.cc",
        "native/server/cache_controls.cc",
        "native/ops/self_signed.cc",
        "native/server/ticket_ring.cc",
        "native/server/ticket_ring_addon.cc",
        "native/server/node_ticket_callback.cc",
        "native/ops/session_inspect.cc",
        "native/common/session_der.cc",
        "native/ops/crypto_providers.cc",
        "native/ops/crypto_engines.cc",
        "native/common/shared_store.cc",
        "native/common/shared_store_file.cc",
        "native/common/shared_store_fault.cc",
        "native/common/shared_store_lock.cc",
        "native/server/shared_ticket_keys.cc",
        "native/server/session_callbacks.cc",
        "native/server/session_id_tag.cc",
        "native/server/fleet_replication.cc",
        "native/common/session_id_context.cc",
        "native/server/session_age.cc",
        "native/server/resumption_stats.cc",
        "native/server/resumption_state.cc",
        "native/server/resumption_outcome.cc",
        "native/server/session_ticket_cb.cc",
        "native/server/client_hello_offers.cc",
        "native/server/resumption_tickets.cc",
        "native/common/shared_store_napi.cc",
        "native/client/client_store.cc",
        "native/common/sealed_box.cc"
      ],
      "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
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
    }
  ],
  # Development tooling (tools/native): the load generator and the shared store's
  # micro-benchmark, modules of their own that the library's binary never contains. Built only in
  # a clone: the published package ships no tools/, so a source build there compiles the library
  # alone. Named to sort after tls_resumption: node-gyp-build and prebuildify take the first .node
  # file in build/Release as the package's addon.
  "conditions": [
    ["'<!(node -p \"require('fs').existsSync('tools/native')\")'=='true'", {
      "targets": [
        {
          "target_name": "tls_resumption_loadgen",
          "sources": [
            "tools/native/loadgen/loadgen_addon.cc",
            "tools/native/loadgen/population.cc",
            "tools/native/loadgen/connection.cc",
            "tools/native/loadgen/phase.cc"
          ],
          "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-pthread"],
          "ldflags": ["-pthread", "-Wl,-z,now"],
          "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES" }
        },
        {
          "target_name": "tls_resumption_store_bench",
          "sources": [
            "tools/native/shared_store_bench.cc",
            "native/common/shared_store.cc",
            "native/common/shared_store_file.cc",
            "native/common/shared_store_fault.cc",
            "native/common/shared_store_lock.cc"
          ],
          "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-pthread"],
          "ldflags": ["-pthread", "-Wl,-z,now"],
          "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES" }
        },
        {
          # The server's CPU per TLS 1.3 handshake over memory BIOs (bench:psk-ke --handshake-only),
          # against the SSL_CTX of a SecureContext the library is attached to: context_access.cc
          # only to read that SSL_CTX out of Node's External.
          "target_name": "tls_resumption_handshake_bench",
          "sources": [
            "tools/native/handshake/handshake_bench_addon.cc",
            "tools/native/handshake/memory_handshake.cc",
            "native/common/context_access.cc"
          ],
          "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
          "ldflags": ["-Wl,-z,now"],
          "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES" }
        },
        {
          # The shared store's multi-process micro-benchmark: a plain executable over the store
          # code (no Node, no OpenSSL), build/Release/store_bench; tools/store-bench.sh runs it.
          "target_name": "store_bench",
          "type": "executable",
          "sources": [
            "tools/native/store_bench.cc",
            "native/common/shared_store.cc",
            "native/common/shared_store_file.cc",
            "native/common/shared_store_fault.cc",
            "native/common/shared_store_lock.cc"
          ],
          "include_dirs": ["native"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
          "ldflags": ["-pthread"]
        }
      ]
    }],
    # Test hooks (test/native): a module of its own that only the tests load, so the library's
    # binary carries none of them. Built only in a clone (the published package ships no test/).
    ["'<!(node -p \"require('fs').existsSync('test/native')\")'=='true'", {
      "targets": [
        {
          "target_name": "tls_resumption_test",
          "sources": [
            "test/native/store_hooks.cc",
            "native/common/context_access.cc",
            "native/common/shared_store.cc",
            "native/common/shared_store_file.cc",
            "native/common/shared_store_fault.cc",
            "native/common/shared_store_lock.cc"
          ],
          "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
          "ldflags": ["-Wl,-z,now"],
          "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES" }
        }
      ]
    }]
  ]
}
