"""cri_suite_test: one binary of the CRI validation suite."""

def cri_suite_test(name, srcs, deps = []):
    """A gtest binary against its own ocid (root, host ports, a bridge)."""
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = [
            ":cri_suite",
            "//api:runtime_v1_grpc",
            "//third_party:absl",
            "//third_party:gtest_main",
        ] + deps,
        tags = ["e2e", "exclusive", "local"],
        timeout = "long",
    )
