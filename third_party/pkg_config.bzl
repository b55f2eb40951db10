"""A repository rule that wraps installed Debian -dev packages as cc_library targets.

Each library's compile and link flags come from pkg-config when the repository
is fetched, so no BUILD file hard-codes `-l` lists. The packages themselves are
pinned in debian-packages.lock and installed by ci/setup.sh.
"""

# gcc-12 searches these by itself; an -I for one of them adds nothing.
_DEFAULT_INCLUDE_DIRS = [
    "/usr/include",
    "/usr/include/x86_64-linux-gnu",
    "/usr/local/include",
]

# System libraries that stay shared even in a static link: libc's parts, the
# compiler runtime, and OpenSSL (one copy per process, shared with libcurl).
_ALWAYS_SHARED = ["atomic", "c", "crypto", "dl", "gcc_s", "m", "pthread", "rt", "ssl", "stdc++"]

_LIB_DIR = "/usr/lib/x86_64-linux-gnu"

def _pkg_config(ctx, modules, static):
    if not modules:
        return []  # header-only, no .pc file (Boost)
    result = ctx.execute(["pkg-config", "--cflags", "--libs"] + (["--static"] if static else []) + modules)
    if result.return_code != 0:
        fail("pkg-config could not find %s (is ci/setup.sh run?): %s" %
             (" ".join(modules), result.stderr.strip()))
    return [f for f in result.stdout.replace("\n", " ").split(" ") if f]

def _static_flag(ctx, flag):
    """-lfoo -> -l:libfoo.a when Debian ships the archive."""
    lib = flag[2:]
    if lib in _ALWAYS_SHARED or not ctx.path("%s/lib%s.a" % (_LIB_DIR, lib)).exists:
        return flag
    return "-l:lib%s.a" % lib

def _split_flags(ctx, name, flags, static):
    defines = []
    linkopts = []
    for flag in flags:
        if flag.startswith("-D"):
            if flag[2:] not in defines:
                defines.append(flag[2:])
        elif flag.startswith("-I"):
            if flag[2:] not in _DEFAULT_INCLUDE_DIRS:
                fail("%s: include dir %s is outside the toolchain's search path" % (name, flag[2:]))
        elif flag.startswith(("-l", "-L", "-Wl,")) or flag == "-pthread":
            # Order matters (static archives, -Wl,--push-state ... --pop-state):
            # keep it as pkg-config gives it, duplicates included.
            if static and flag.startswith("-l"):
                flag = _static_flag(ctx, flag)
            linkopts.append(flag)
        else:
            fail("%s: pkg-config flag %s is not understood" % (name, flag))
    return defines, linkopts

def _debian_libraries_impl(ctx):
    build = ['package(default_visibility = ["//visibility:public"])\n']
    for name, modules in ctx.attr.libraries.items():
        static = name in ctx.attr.link_statically
        defines, linkopts = _split_flags(ctx, name, _pkg_config(ctx, modules, static), static)
        extra = ctx.attr.extra_linkopts.get(name, [])
        build.append("cc_library(\n    name = %r,\n    defines = %r,\n    linkopts = %r,\n)\n" %
                     (name, defines, linkopts + extra))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", "\n".join(build))

debian_libraries = repository_rule(
    implementation = _debian_libraries_impl,
    attrs = {
        "libraries": attr.string_list_dict(
            doc = "target name -> pkg-config modules",
            mandatory = True,
        ),
        "link_statically": attr.string_list(
            doc = "targets whose libraries (and their dependencies) are linked from " +
                  "Debian's static archives",
        ),
        "extra_linkopts": attr.string_list_dict(
            doc = "target name -> link flags for libraries that ship no .pc file",
        ),
    },
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)
