// What checking a pull against the trust policy costs (run it with
// bench/trust_bench.sh, which starts the registry, signs the busybox
// stand-in image both ways and writes the policies). Three private ocids,
// one per policy in --setup-dir:
//   accept     insecureAcceptAnything (the floor)
//   signedBy   a GPG simple signature from a file:// lookaside (gpgme)
//   sigstore   a sigstoreSigned P-256 signature from the registry's
//              sha256-<hex>.sig attachment (OpenSSL)
// each pull the image --runs times, interleaved, removing it between pulls
// (so every pull downloads, verifies and unpacks again). Reports each p50 and
// the difference to the floor (target: under 10 ms). Then, without the
// pull's own noise, ImageTrust::Check alone for each policy, in this
// process: the signature reads (file lookaside, registry attachments) and
// the verification.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "bench/bench_support.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/image/reference.h"
#include "pkg/image/registry_client.h"
#include "pkg/trust/image_trust.h"
#include "pkg/trust/sigstore_attachments.h"

namespace ocid {
namespace {

namespace cri = runtime::v1;

struct Options {
  std::string registry;   // 127.0.0.1:PORT
  std::string setup_dir;  // registries.conf, registries.d/, <policy>.json
  std::string image = "busybox:latest";
  std::string ocid = "cmd/ocid/ocid";
  int runs = 20;
};

struct Contender {
  std::string name;  // the policy file's stem
  std::unique_ptr<BenchDir> dir;
  std::optional<Subprocess> ocid;
  std::unique_ptr<cri::ImageService::Stub> images;
  std::vector<double> millis;
};

absl::Status StartContender(const Options& options, Contender& contender) {
  absl::StatusOr<std::unique_ptr<BenchDir>> dir = BenchDir::Make("trust-" + contender.name);
  if (!dir.ok()) return dir.status();
  contender.dir = std::move(*dir);
  const std::string& path = contender.dir->path();
  absl::StatusOr<Subprocess> ocid = StartPrivateOcid(
      options.ocid, path,
      {"--registries-conf", options.setup_dir + "/registries.conf", "--signature-policy",
       absl::StrCat(options.setup_dir, "/", contender.name, ".json"), "--registries-d",
       options.setup_dir + "/registries.d"});
  if (!ocid.ok()) return ocid.status();
  contender.ocid.emplace(std::move(*ocid));
  contender.images = cri::ImageService::NewStub(
      grpc::CreateChannel("unix:" + path + "/ocid.sock", grpc::InsecureChannelCredentials()));
  return absl::OkStatus();
}

// One pull, timed, then the image removed again.
absl::Status PullOnce(const std::string& image, Contender& contender) {
  cri::PullImageRequest pull;
  pull.mutable_image()->set_image(image);
  cri::PullImageResponse pulled;
  grpc::ClientContext pull_context;
  pull_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  absl::Time start = absl::Now();
  grpc::Status status = contender.images->PullImage(&pull_context, pull, &pulled);
  double millis = MillisSince(start);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat(contender.name, ": PullImage: ", status.error_message()));
  }
  contender.millis.push_back(millis);
  cri::RemoveImageRequest remove;
  remove.mutable_image()->set_image(image);
  cri::RemoveImageResponse removed;
  grpc::ClientContext remove_context;
  remove_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  status = contender.images->RemoveImage(&remove_context, remove, &removed);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat(contender.name, ": RemoveImage: ", status.error_message()));
  }
  return absl::OkStatus();
}

// p50 of `runs` ImageTrust::Check calls of the policy `name` for `image`.
absl::StatusOr<double> CheckMillis(const Options& options, const std::string& name,
                                   const ImageReference& image, const std::string& digest) {
  ASSIGN_OR_RETURN(std::unique_ptr<ImageTrust> trust,
                   ImageTrust::Load(absl::StrCat(options.setup_dir, "/", name, ".json"),
                                    options.setup_dir + "/registries.d"));
  RegistryClient client({options.registry, /*insecure=*/true}, {});
  AttachmentSource attachments = RegistryAttachmentSource(client, image.repository);
  std::vector<double> millis;
  for (int run = -1; run < options.runs; ++run) {
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(trust->Check(image, digest, &attachments));
    if (run >= 0) millis.push_back(MillisSince(start));
  }
  return Percentile(millis, 50);
}

absl::Status ReportChecks(const Options& options) {
  ASSIGN_OR_RETURN(ImageReference image,
                   ParseImageReference(absl::StrCat(options.registry, "/", options.image)));
  RegistryClient client({options.registry, /*insecure=*/true}, {});
  ASSIGN_OR_RETURN(FetchedManifest manifest, client.GetManifest(image.repository, image.tag));
  std::printf("ImageTrust::Check alone, %d runs each, p50:\n", options.runs);
  for (const char* name : {"accept", "signedBy", "sigstore"}) {
    ASSIGN_OR_RETURN(double p50, CheckMillis(options, name, image, manifest.digest.String()));
    std::printf("  %-9s %8.3f ms\n", name, p50);
  }
  // Of which the two registry requests of a sigstore check.
  AttachmentSource attachments = RegistryAttachmentSource(client, image.repository);
  std::vector<double> millis;
  for (int run = -1; run < options.runs; ++run) {
    absl::Time start = absl::Now();
    ASSIGN_OR_RETURN(std::vector<SigstoreSignature> signatures,
                     ReadSigstoreAttachments(attachments, manifest.digest.String()));
    if (signatures.empty()) return absl::NotFoundError("no sigstore attachment");
    if (run >= 0) millis.push_back(MillisSince(start));
  }
  std::printf("  of which reading the sigstore attachment (2 requests) %.3f ms\n",
              Percentile(millis, 50));
  return absl::OkStatus();
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseBenchFlags(argc, argv,
                       {{"--registry", TextFlag(&options.registry)},
                        {"--setup-dir", TextFlag(&options.setup_dir)},
                        {"--image", TextFlag(&options.image)},
                        {"--ocid", TextFlag(&options.ocid)},
                        {"--runs", CountFlag(&options.runs)}}) ||
      options.registry.empty() || options.setup_dir.empty()) {
    std::fprintf(stderr,
                 "usage: trust_bench --registry 127.0.0.1:PORT --setup-dir DIR "
                 "[--image busybox:latest] [--runs 20]\n");
    return 2;
  }
  const std::string image = absl::StrCat(options.registry, "/", options.image);
  std::vector<Contender> contenders(3);
  contenders[0].name = "accept";
  contenders[1].name = "signedBy";
  contenders[2].name = "sigstore";
  for (Contender& contender : contenders) {
    absl::Status started = StartContender(options, contender);
    if (!started.ok()) {
      std::fprintf(stderr, "start %s: %s\n", contender.name.c_str(), started.ToString().c_str());
      return 1;
    }
  }
  // One unmeasured pull each (connections, first-use setup), then the runs,
  // interleaved so that drift in the machine's load hits all three alike.
  // The order rotates from run to run: no contender always follows another.
  for (int run = -1; run < options.runs; ++run) {
    for (size_t k = 0; k < contenders.size(); ++k) {
      Contender& contender = contenders[(k + std::max(run, 0)) % contenders.size()];
      absl::Status status = PullOnce(image, contender);
      if (!status.ok()) {
        std::fprintf(stderr, "run %d: %s\n", run, status.ToString().c_str());
        return 1;
      }
      if (run < 0) contender.millis.clear();
    }
  }
  const double floor = Percentile(contenders[0].millis, 50);
  std::printf("pull of %s, %d runs each (image removed between pulls), p50:\n", image.c_str(),
              options.runs);
  auto spread = [](const Contender& contender) {
    return absl::StrFormat("(min %.2f, p90 %.2f)", Percentile(contender.millis, 0.01),
                           Percentile(contender.millis, 90));
  };
  std::printf("  %-9s %8.2f ms %s insecureAcceptAnything, the floor\n", "accept", floor,
              spread(contenders[0]).c_str());
  for (size_t i = 1; i < contenders.size(); ++i) {
    double p50 = Percentile(contenders[i].millis, 50);
    std::printf("  %-9s %8.2f ms %s verification adds %+.2f ms (target < 10 ms)\n",
                contenders[i].name.c_str(), p50, spread(contenders[i]).c_str(), p50 - floor);
  }
  for (Contender& contender : contenders) {
    (void)contender.ocid->Signal(SIGTERM);
    (void)contender.ocid->Wait();
  }
  absl::Status checks = ReportChecks(options);
  if (!checks.ok()) {
    std::fprintf(stderr, "checks: %s\n", checks.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
