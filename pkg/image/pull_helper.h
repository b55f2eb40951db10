// ocid-pull's body: one image pull, for ocid (helper_puller.h). Reads a
// PullRequest (pull_protocol.h) on stdin, pulls into the stores under its
// storage_root, and writes progress and then the image record to publish,
// or the error, as JSON lines on fd 3. It writes no image record and
// collects nothing: ocid does, holding every store key leased while this
// runs. It dies with ocid (PR_SET_PDEATHSIG on `--parent-pid PID`).
#ifndef OCID_PKG_IMAGE_PULL_HELPER_H_
#define OCID_PKG_IMAGE_PULL_HELPER_H_

namespace ocid {

// The exit code: 0 once a result or an error was sent, 2 when ocid died
// before the helper could tie itself to it, 3 when ocid stopped reading.
int PullHelperMain(int argc, char** argv);

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_PULL_HELPER_H_
