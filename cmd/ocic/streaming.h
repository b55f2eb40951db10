// ocic's streaming commands: an interactive exec, attach and port-forward,
// through the URLs ocid's Exec, Attach and PortForward calls return (the
// SPDY client of pkg/streaming, as kubectl and crictl speak it).
#ifndef OCID_CMD_OCIC_STREAMING_H_
#define OCID_CMD_OCIC_STREAMING_H_

#include "absl/status/status.h"
#include "cmd/ocic/commands.h"

namespace ocid::ocic {

// Whether -i/--interactive or -t/--tty (or -it) was given.
bool WantsInteractive(const Invocation& in);
bool WantsTty(const Invocation& in);

// `ctr exec -i/-t`: the command with our stdin (and terminal).
absl::Status CtrExecInteractive(Invocation& in);
// `ctr attach`: the container's output, and with -i our input.
absl::Status CtrAttach(Invocation& in);
// `pod port-forward`: LOCAL:REMOTE (or PORT) forwarded until interrupted.
absl::Status PodPortForward(Invocation& in);

}  // namespace ocid::ocic

#endif  // OCID_CMD_OCIC_STREAMING_H_
