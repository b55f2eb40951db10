"""bats_test: one bats suite under `bazel test`, run by e2e/run_bats.sh."""

def bats_test(name, suite, data = [], needs_root = False, size = "large"):
    """A suite that boots its own ocid (and, with needs_root, runs
    containers, mounts and network namespaces: outside the sandbox, alone).
    """
    native.sh_test(
        name = name,
        size = size,
        srcs = ["run_bats.sh"],
        args = ["e2e/" + suite],
        data = [
            "helpers.bash",
            suite,
            "//cmd/ocic",
            "//cmd/ocid",
        ] + data,
        tags = ["e2e"] + (["exclusive", "local"] if needs_root else []),
    )
