# Node-API addon over libphantompool (see README.md, "Building").
# pp_include / pp_libdir default to this source tree (include/, build/);
# point them at an installed library with
#   node-gyp rebuild --nodedir=/usr -- -Dpp_include=/usr/local/include -Dpp_libdir=/usr/local/lib
{
  "variables": {
    "pp_include%": "<(module_root_dir)/../../include",
    "pp_libdir%": "<(module_root_dir)/../../build",
  },
  "targets": [
    {
      "target_name": "phantompool",
      "sources": ["src/addon.c", "src/seat.c"],
      "include_dirs": ["<(pp_include)"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Wno-unused-parameter",
                 "-Wstrict-prototypes", "-pthread"],
      "libraries": ["-L<(pp_libdir)", "-lphantompool", "-Wl,-rpath,<(pp_libdir)", "-pthread"],
    }
  ]
}
