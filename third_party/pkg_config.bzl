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

def _pkg_config(ctx, modules):
    if not modules:
        return []  # header-only, no .pc file (Boost)
    result = ctx.execute(["pkg-config", "--cflags", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config could not find %s (is ci/setup.sh run?): %s" %
             (" ".join(modules), result.stderr.strip()))
    return [f for f in result.stdout.replace("\n", " ").split(" ") if f]

def _split_flags(name, flags):
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
            # Order matters (-Wl,--push-state ... --pop-state): keep it as given.
            linkopts.append(flag)
        else:
            fail("%s: pkg-config flag %s is not understood" % (name, flag))
    return defines, linkopts

def _debian_libraries_impl(ctx):
    build = ['package(default_visibility = ["//visibility:public"])\n']
    for name, modules in ctx.attr.libraries.items():
        defines, linkopts = _split_flags(name, _pkg_config(ctx, modules))
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
        "extra_linkopts": attr.string_list_dict(
            doc = "target name -> link flags for libraries that ship no .pc file",
        ),
    },
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)
