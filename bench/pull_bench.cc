// Cold pull benchmark against a local registry (run it with
// bench/pull_bench.sh, which starts the registry and builds the ~200 MB
// image). Per run, on fresh dirs:
//   download    ocid's registry client + blob store, 3 blobs at a time
//   skopeo      `skopeo copy docker://... dir:...` (the download floor)
//   pull+unpack ocid's PullImage over its socket; ocid's peak RSS
//   tar floor   `tar -xzf` of the same layer blobs, one after another
// Reports medians and the ratios against the floors.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "bench/bench_support.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/image/manifest.h"
#include "pkg/image/registry_client.h"
#include "pkg/storage/blob_store.h"

namespace ocid {
namespace {

struct Options {
  std::string registry;  // 127.0.0.1:PORT
  std::string image = "big";
  std::string tag = "latest";
  std::string ocid = "cmd/ocid/ocid";
  int runs = 3;
};

std::string TempDir(const std::string& what) {
  std::string pattern = "/tmp/ocid-bench-" + what + ".XXXXXX";
  return ::mkdtemp(pattern.data());
}

// Downloads every blob of the image into a fresh blob store; returns the
// seconds taken and leaves the layer blob paths in `layer_paths`.
absl::StatusOr<double> Download(const Options& options, const std::string& dir,
                                std::vector<std::string>& layer_paths) {
  ASSIGN_OR_RETURN(auto store, BlobStore::Open(dir));
  RegistryClient client({options.registry, /*insecure=*/true}, {});
  absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(FetchedManifest fetched, client.GetManifest(options.image, options.tag));
  ASSIGN_OR_RETURN(ParsedManifest parsed, ParseManifest(fetched.media_type, fetched.body));
  if (!parsed.manifest) return absl::InvalidArgumentError("not an image manifest");
  std::vector<Descriptor> blobs = parsed.manifest->layers;
  blobs.push_back(parsed.manifest->config);
  std::atomic<size_t> next{0};
  std::vector<absl::Status> results(blobs.size());
  auto work = [&] {
    for (size_t i = next++; i < blobs.size(); i = next++) {
      auto writer = store->NewWriter(blobs[i].digest, blobs[i].size);
      if (!writer.ok()) {
        results[i] = writer.status();
        continue;
      }
      results[i] = client.GetBlob(
          options.image, blobs[i].digest,
          [&](absl::string_view chunk) { return (*writer)->Write(chunk); },
          [&] { (*writer)->Restart().IgnoreError(); });
      if (results[i].ok()) results[i] = (*writer)->Commit();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back(work);
  work();
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) RETURN_IF_ERROR(result);
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (const Descriptor& layer : parsed.manifest->layers) {
    layer_paths.push_back(store->PathOf(layer.digest));
  }
  return seconds;
}

absl::StatusOr<double> TimeCommand(const std::vector<std::string>& argv) {
  absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(Subprocess child, Subprocess::SpawnLogged(argv));
  ASSIGN_OR_RETURN(int status, child.Wait());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed"));
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

absl::StatusOr<double> TarFloor(const std::vector<std::string>& layer_paths,
                                const std::string& dir) {
  double total = 0;
  for (const std::string& layer : layer_paths) {
    ASSIGN_OR_RETURN(double seconds, TimeCommand({"/usr/bin/tar", "-xzf", layer, "-C", dir}));
    total += seconds;
  }
  return total;
}

// A fresh ocid (own root) pulls the image; returns seconds and its peak RSS.
absl::StatusOr<std::pair<double, long>> OcidPull(const Options& options, const std::string& dir) {
  RETURN_IF_ERROR(WriteFileAtomically(
      dir + "/registries.conf",
      absl::StrCat("[[registry]]\nlocation = \"", options.registry, "\"\ninsecure = true\n")));
  std::string socket = dir + "/ocid.sock";
  ASSIGN_OR_RETURN(Subprocess ocid,
                   Subprocess::SpawnLogged({std::filesystem::absolute(options.ocid).string(),
                                        "--config", dir + "/none", "--config-dir", dir + "/none",
                                        "--listen", socket, "--root", dir + "/root", "--runroot",
                                        dir + "/run", "--registries-conf", dir + "/registries.conf"},
                                       dir + "/ocid.log"));
  struct stat st;
  for (int i = 0; i < 1000 && ::stat(socket.c_str(), &st) != 0; ++i) ::usleep(5000);
  auto images = runtime::v1::ImageService::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  runtime::v1::PullImageRequest request;
  request.mutable_image()->set_image(
      absl::StrCat(options.registry, "/", options.image, ":", options.tag));
  runtime::v1::PullImageResponse response;
  absl::Time start = absl::Now();
  grpc::Status status = images->PullImage(&context, request, &response);
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!status.ok()) return absl::InternalError("PullImage: " + status.error_message());
  long peak = ProcStatusKb(ocid.pid(), "VmHWM");
  (void)ocid.Signal(SIGTERM);
  (void)ocid.Wait();
  return std::make_pair(seconds, peak);
}

absl::Status RunOnce(const Options& options, std::vector<double>* results, long* peak_kb) {
  std::string download_dir = TempDir("download"), skopeo_dir = TempDir("skopeo"),
              tar_dir = TempDir("tar"), ocid_dir = TempDir("ocid");
  absl::Status status = [&]() -> absl::Status {
    std::vector<std::string> layers;
    ASSIGN_OR_RETURN(results[0].emplace_back(), Download(options, download_dir, layers));
    ASSIGN_OR_RETURN(results[1].emplace_back(),
                     TimeCommand({"/usr/bin/skopeo", "copy", "--quiet", "--src-tls-verify=false",
                                  absl::StrCat("docker://", options.registry, "/", options.image,
                                               ":", options.tag),
                                  "dir:" + skopeo_dir + "/image"}));
    ASSIGN_OR_RETURN(auto pulled, OcidPull(options, ocid_dir));
    results[2].push_back(pulled.first);
    *peak_kb = std::max(*peak_kb, pulled.second);
    ASSIGN_OR_RETURN(results[3].emplace_back(), TarFloor(layers, tar_dir));
    return absl::OkStatus();
  }();
  for (const auto& dir : {download_dir, skopeo_dir, tar_dir, ocid_dir}) {
    RemoveAll(dir).IgnoreError();
  }
  return status;
}

int Run(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--registry") options.registry = value;
    else if (flag == "--image") options.image = value;
    else if (flag == "--ocid") options.ocid = value;
    else if (flag == "--runs" && absl::SimpleAtoi(value, &options.runs)) {}
    else {
      std::fprintf(stderr, "usage: pull_bench --registry 127.0.0.1:PORT [--image big] [--runs 3]\n");
      return 2;
    }
  }
  if (options.registry.rfind("127.0.0.1:", 0) != 0) {
    std::fprintf(stderr, "pull_bench: --registry must be a 127.0.0.1 registry\n");
    return 2;
  }
  std::vector<double> results[4];
  long peak_kb = 0;
  for (int i = 0; i < options.runs; ++i) {
    absl::Status status = RunOnce(options, results, &peak_kb);
    if (!status.ok()) {
      std::fprintf(stderr, "run %d: %s\n", i, status.ToString().c_str());
      return 1;
    }
  }
  double download = Percentile(results[0], 50), skopeo = Percentile(results[1], 50), pull = Percentile(results[2], 50),
         tar = Percentile(results[3], 50);
  std::printf("image %s/%s:%s, %d runs, medians:\n", options.registry.c_str(),
              options.image.c_str(), options.tag.c_str(), options.runs);
  std::printf("  download (ocid client)   %.3f s   vs skopeo copy %.3f s: ratio %.2f (target <= 1)\n",
              download, skopeo, download / skopeo);
  std::printf("  pull + unpack (ocid)     %.3f s   vs tar -xzf floor %.3f s: ratio %.2f (target <= 1.3)\n",
              pull, tar, pull / tar);
  std::printf("  ocid peak RSS during pull %ld kB (target < 61440)\n", peak_kb);
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
