#include "pkg/metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ocid {
namespace {

constexpr absl::string_view kOpenMetricsType = "application/openmetrics-text";

struct MediaRange {
  std::string type;  // lower case, parameters stripped
  std::string version;
  double quality = 1;
};

// One element of an Accept header: "type/subtype;param=value;q=0.5".
MediaRange ParseMediaRange(absl::string_view element) {
  MediaRange range;
  std::vector<absl::string_view> parts = absl::StrSplit(element, ';');
  range.type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[0]));
  for (size_t i = 1; i < parts.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(parts[i], '=');
    std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(kv.first));
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (key == "q") {
      double q = 0;
      range.quality = absl::SimpleAtod(value, &q) && q >= 0 && q <= 1 ? q : 0;
    } else if (key == "version") {
      range.version = std::string(value);
    }
  }
  return range;
}

// Shortest text that reads back as `value`: whole numbers (counts, bytes)
// as integers, others with an exponent only when very small or large
// (0.0005, not 5e-04); +Inf, -Inf and NaN as the formats spell them.
std::string Number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  bool whole = std::trunc(value) == value && std::fabs(value) < 1e15;
  char buffer[64];
  std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value,
                    whole ? std::chars_format::fixed : std::chars_format::general);
  return std::string(buffer, result.ptr);
}

// OpenMetrics' canonical form for `le` and `quantile`: a float always
// written with a fraction or an exponent ("1.0", not "1").
std::string CanonicalFloat(double value) {
  std::string text = Number(value);
  if (std::isfinite(value) && text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

// Backslash, double quote and line feed escaped (label values and HELP).
std::string Escape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

using Labels = std::vector<prometheus::ClientMetric::Label>;

// {a="x",b="y"} with an optional extra label last; nothing when empty.
std::string LabelSet(const Labels& labels, absl::string_view extra_name = "",
                     absl::string_view extra_value = "") {
  std::string out;
  for (const prometheus::ClientMetric::Label& label : labels) {
    absl::StrAppend(&out, out.empty() ? "{" : ",", label.name, "=\"", Escape(label.value), "\"");
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, out.empty() ? "{" : ",", extra_name, "=\"", extra_value, "\"");
  }
  if (!out.empty()) out += "}";
  return out;
}

// Writes families in one of the two formats, which differ only in a few
// places: OpenMetrics names a counter family without `_total`, calls untyped
// families `unknown`, has UNIT lines, canonical `le`/`quantile` floats,
// timestamps in seconds and a closing `# EOF`; the text format keeps the
// collected names, puts HELP (escaping only backslash and line feed) before
// TYPE and writes timestamps in milliseconds.
class Writer {
 public:
  explicit Writer(ExpositionFormat format) : open_metrics_(format == ExpositionFormat::kOpenMetrics) {
    out_.reserve(16 << 10);  // what ocid's scrape weighs, grown once
  }

  void Family(const prometheus::MetricFamily& family) {
    std::string name = family.name;
    const char* type = open_metrics_ ? "unknown" : "untyped";
    switch (family.type) {
      case prometheus::MetricType::Counter:
        type = "counter";
        if (open_metrics_) name = std::string(absl::StripSuffix(family.name, "_total"));
        break;
      case prometheus::MetricType::Gauge:
        type = "gauge";
        break;
      case prometheus::MetricType::Histogram:
        type = "histogram";
        break;
      case prometheus::MetricType::Summary:
        type = "summary";
        break;
      case prometheus::MetricType::Untyped:
        break;
    }
    if (open_metrics_) {
      absl::StrAppend(&out_, "# TYPE ", name, " ", type, "\n");
      for (absl::string_view unit : {"seconds", "bytes"}) {
        if (absl::EndsWith(name, absl::StrCat("_", unit))) {
          absl::StrAppend(&out_, "# UNIT ", name, " ", unit, "\n");
        }
      }
      if (!family.help.empty())
        absl::StrAppend(&out_, "# HELP ", name, " ", Escape(family.help), "\n");
    } else {
      if (!family.help.empty())
        absl::StrAppend(&out_, "# HELP ", name, " ", EscapeHelp(family.help), "\n");
      absl::StrAppend(&out_, "# TYPE ", name, " ", type, "\n");
    }
    for (const prometheus::ClientMetric& metric : family.metric) {
      if (metric.timestamp_ms == 0) {
        timestamp_.clear();
      } else if (open_metrics_) {
        timestamp_ = absl::StrCat(" ", Number(static_cast<double>(metric.timestamp_ms) / 1000));
      } else {
        timestamp_ = absl::StrCat(" ", metric.timestamp_ms);
      }
      Metric(name, family.type, metric);
    }
  }

  std::string Finish() {
    if (open_metrics_) out_ += "# EOF\n";
    return std::move(out_);
  }

 private:
  // The text format's HELP escapes backslash and line feed only.
  static std::string EscapeHelp(absl::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    return out;
  }

  std::string Bound(double value) const { return open_metrics_ ? CanonicalFloat(value) : Number(value); }

  void Sample(absl::string_view name, const std::string& labels, double value) {
    absl::StrAppend(&out_, name, labels, " ", Number(value), timestamp_, "\n");
  }

  void Metric(const std::string& name, prometheus::MetricType type,
              const prometheus::ClientMetric& metric) {
    switch (type) {
      case prometheus::MetricType::Counter:
        Sample(open_metrics_ ? name + "_total" : name, LabelSet(metric.label), metric.counter.value);
        return;
      case prometheus::MetricType::Gauge:
        Sample(name, LabelSet(metric.label), metric.gauge.value);
        return;
      case prometheus::MetricType::Untyped:
        Sample(name, LabelSet(metric.label), metric.untyped.value);
        return;
      case prometheus::MetricType::Summary:
        for (const prometheus::ClientMetric::Quantile& q : metric.summary.quantile) {
          Sample(name, LabelSet(metric.label, "quantile", Bound(q.quantile)), q.value);
        }
        Sample(name + "_sum", LabelSet(metric.label), metric.summary.sample_sum);
        Sample(name + "_count", LabelSet(metric.label),
               static_cast<double>(metric.summary.sample_count));
        return;
      case prometheus::MetricType::Histogram:
        Histogram(name, metric);
        return;
    }
  }

  // Buckets, always ending with +Inf (its count is the sample count), then
  // _count and _sum.
  // The bucket name and the labels before `le` are built once per metric,
  // not per bucket (a scrape writes a few hundred buckets).
  void Histogram(const std::string& name, const prometheus::ClientMetric& metric) {
    const prometheus::ClientMetric::Histogram& h = metric.histogram;
    const std::string bucket = name + "_bucket";
    const std::string labels = LabelSet(metric.label);
    // {a="x",le=" or {le=" ; the bound and "\"}" follow.
    const std::string le_prefix =
        labels.empty() ? "{le=\"" : absl::StrCat(labels.substr(0, labels.size() - 1), ",le=\"");
    auto write_bucket = [&](absl::string_view bound, double count) {
      absl::StrAppend(&out_, bucket, le_prefix, bound, "\"} ", Number(count), timestamp_, "\n");
    };
    bool has_inf = false;
    for (const prometheus::ClientMetric::Bucket& b : h.bucket) {
      has_inf = has_inf || std::isinf(b.upper_bound);
      write_bucket(Bound(b.upper_bound), static_cast<double>(b.cumulative_count));
    }
    if (!has_inf) write_bucket("+Inf", static_cast<double>(h.sample_count));
    Sample(name + "_count", labels, static_cast<double>(h.sample_count));
    Sample(name + "_sum", labels, h.sample_sum);
  }

  const bool open_metrics_;
  std::string out_;
  std::string timestamp_;
};

}  // namespace

ExpositionFormat NegotiateExposition(absl::string_view accept) {
  double openmetrics = 0, text = 0;
  for (absl::string_view element : absl::StrSplit(accept, ',', absl::SkipWhitespace())) {
    MediaRange range = ParseMediaRange(element);
    if (range.type == kOpenMetricsType) {
      if (range.version.empty() || range.version == "1.0.0") {
        openmetrics = std::max(openmetrics, range.quality);
      }
    } else if (range.type == "text/plain" || range.type == "text/*" || range.type == "*/*") {
      text = std::max(text, range.quality);
    }
  }
  return openmetrics > 0 && openmetrics >= text ? ExpositionFormat::kOpenMetrics
                                                : ExpositionFormat::kPrometheusText;
}

std::string ExpositionContentType(ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string Expose(ExpositionFormat format, const std::vector<prometheus::MetricFamily>& families) {
  Writer writer(format);
  for (const prometheus::MetricFamily& family : families) writer.Family(family);
  return writer.Finish();
}

}  // namespace ocid
