// The two text formats a scrape may ask for: Prometheus' text format 0.0.4
// and OpenMetrics 1.0.0, rendered here from the families collected in
// prometheus-cpp's data model. Which one is answered follows the scrape's
// Accept header. Our own writer for both, not prometheus-cpp's
// TextSerializer: that one function was all ocid used of the library's
// shared object, which made every idle ocid load it and the C++ runtime
// beside it (docs/ARCHITECTURE.md, "Build").
#ifndef OCID_PKG_METRICS_EXPOSITION_H_
#define OCID_PKG_METRICS_EXPOSITION_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "prometheus/metric_family.h"

namespace ocid {

enum class ExpositionFormat { kPrometheusText, kOpenMetrics };

// OpenMetrics when the Accept header names application/openmetrics-text
// (no version, or version 1.0.0) with a quality at least that of the text
// format (text/plain, text/* or */*); otherwise the Prometheus text format,
// which is also the answer to an empty or unparsable header.
ExpositionFormat NegotiateExposition(absl::string_view accept);

// The Content-Type header value of a format.
std::string ExpositionContentType(ExpositionFormat format);

// The families in `format`. For OpenMetrics: a counter family is named
// without its `_total` and its samples with it (added when the collected
// name lacks it), untyped families are `unknown`, a UNIT line is written for
// names ending in _seconds or _bytes, `le`/`quantile` values are canonical
// floats, timestamps are in seconds, and the text ends with `# EOF`.
std::string Expose(ExpositionFormat format, const std::vector<prometheus::MetricFamily>& families);

}  // namespace ocid

#endif  // OCID_PKG_METRICS_EXPOSITION_H_
