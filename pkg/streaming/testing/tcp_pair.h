// Tests' TCP connections on loopback: the splice path runs only on TCP
// (a socketpair takes the copying one).
#ifndef OCID_PKG_STREAMING_TESTING_TCP_PAIR_H_
#define OCID_PKG_STREAMING_TESTING_TCP_PAIR_H_

#include <utility>

#include "pkg/base/unique_fd.h"

namespace ocid::streaming {

// Both ends of a fresh TCP connection on 127.0.0.1, Nagle off on both:
// {connecting, accepted}. Fails the running test (and returns invalid fds)
// when a step fails.
std::pair<UniqueFd, UniqueFd> TcpPair();

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_TESTING_TCP_PAIR_H_
