#!/bin/sh
echo "ocid: bazel coverage is not supported offline (no coverage tools are packaged)" >&2
exit 1
