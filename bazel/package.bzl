"""The library, test and fuzz targets of a pkg/<area>, from its file names.

- one cc_library of every *.cc and *.h but tests and fuzzers;
- one cc_test per *_test.cc, with the area's library and googletest;
- one fuzz binary per *_fuzzer.cc (LLVMFuzzerTestOneInput, built with our gcc
  driver) and a `<name>_smoke_test` replaying testdata/fuzz/<name>/.
"""

def area_library(name, deps):
    """The area's one library: its sources and headers, tests excluded."""
    native.cc_library(
        name = name,
        srcs = native.glob(["*.cc"], exclude = ["*_test.cc", "*_fuzzer.cc"]),
        hdrs = native.glob(["*.h"]),
        deps = deps,
    )

def package_tests(library, deps = [], data = [], tags = []):
    """Declares the tests of the package whose library is `library`."""
    for src in native.glob(["*_test.cc"]):
        native.cc_test(
            name = src[:-3],
            srcs = [src],
            data = native.glob(["testdata/**"]) + data,
            tags = tags,
            deps = [
                library,
                "//pkg/base",
                "//third_party:absl",
                "//third_party:gtest_main",
            ] + deps,
        )

    for src in native.glob(["*_fuzzer.cc"]):
        name = src[:-3]
        native.cc_binary(
            name = name,
            srcs = [src],
            deps = [
                library,
                "//pkg/base:fuzz_driver",
            ],
        )
        native.sh_test(
            name = name + "_smoke_test",
            srcs = ["//pkg/base:fuzz_smoke.sh"],
            args = [
                "$(location :%s)" % name,
                "%s/testdata/fuzz/%s" % (native.package_name(), name),
            ],
            data = [":" + name] + native.glob(["testdata/fuzz/**"]),
        )
