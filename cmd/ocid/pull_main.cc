// ocid-pull: the helper ocid runs for each image pull (pkg/image/pull_helper.h).
#include "pkg/image/pull_helper.h"

int main(int argc, char** argv) { return ocid::PullHelperMain(argc, argv); }
