# Turns critest's ginkgo JSON report into one verdict per validation spec,
# judged against e2e/cri/not_yet.txt, and prints it as JUnit XML ($out ==
# "xml") or as text for the test log ($out == "text").
#
#   jq -r -f critest_junit.jq --rawfile specs SPECS --rawfile notyet NOT_YET \
#     --arg out xml REPORT.json
#
# SPECS (e2e/cri/specs.txt): "<gtest name>\t<critest full name>" lines.
# NOT_YET (e2e/cri/not_yet.txt): gtest names, first field of a line; "#" starts
# a comment. A spec's full name is its container texts and leaf text joined by
# " > ", as in specs.txt and ginkgo's --ginkgo.focus.
#
# Verdicts (what the target and ci/test.sh count):
#   critest passed,  not listed -> passed
#   critest passed,  listed     -> failed (the list must only name what fails)
#   critest failed,  listed     -> skipped ("not yet"), critest's message kept
#   critest failed,  not listed -> failed
#   critest skipped             -> skipped
# Specs of the report that specs.txt does not name are kept unless critest
# skipped them (the benchmark specs, which need -benchmark); a spec of
# specs.txt missing from the report fails.

def lines: split("\n") | map(sub("\r$"; ""));

def spec_map:
  $specs | lines | map(select(length > 0 and (startswith("#") | not)) | split("\t")
    | select(length >= 2) | {key: .[1], value: .[0]}) | from_entries;

def not_yet:
  $notyet | lines | map(sub("#.*$"; "") | gsub("^\\s+|\\s+$"; "")
    | select(length > 0) | split(" ") | .[0] | split("\t") | .[0])
  | map({key: ., value: true}) | from_entries;

def critest_state:
  if . == "passed" then "passed"
  elif . == "skipped" or . == "pending" then "skipped"
  else "failed" end;

def where: if .Failure.Location.FileName then
    " [\(.Failure.Location.FileName | sub("^.*/cri-tools/"; "")):\(.Failure.Location.LineNumber)]"
  else "" end;

def message: ((.Failure.Message // "") | gsub("\\s+$"; "")) + where;

def verdicts:
  spec_map as $map | not_yet as $listed
  | [.[].SpecReports[]? | select(.LeafNodeType == "It")
      | ((.ContainerHierarchyTexts // []) + [.LeafNodeText] | join(" > ")) as $name
      | {name: $name, gtest: $map[$name], critest: (.State | critest_state),
         state: .State, message: message, time: ((.RunTime // 0) / 1e9)}
      | select(.gtest != null or .critest != "skipped")] as $its
  # Suite-level nodes (BeforeSuite, AfterSuite, ...) only when they failed:
  # a failed BeforeSuite is why every spec was skipped.
  | [.[].SpecReports[]? | select(.LeafNodeType != "It" and (.State | critest_state) == "failed")
      | {name: "[\(.LeafNodeType)]", gtest: null, critest: "failed", state: .State,
         message: message, time: ((.RunTime // 0) / 1e9)}] as $suite
  | ($its | map(.name) | map({key: ., value: true}) | from_entries) as $seen
  | [$map | to_entries[] | select($seen[.key] | not)
      | {name: .key, gtest: .value, critest: "failed", state: "missing",
         message: "not in critest's report (not run, or renamed upstream)", time: 0}] as $missing
  | ($its + $suite + $missing)
  | map(. + (($listed[.gtest // ""] // false) as $l
      | if .critest == "passed" and $l then
          {verdict: "failed",
           why: "passes, but e2e/cri/not_yet.txt lists \(.gtest): remove it from the list"}
        elif .critest == "failed" and $l then
          {verdict: "skipped", why: "not yet (e2e/cri/not_yet.txt: \(.gtest)); critest: \(.message)"}
        elif .critest == "failed" then
          {verdict: "failed", why: "critest \(.state): \(.message)"}
        elif .critest == "skipped" then
          {verdict: "skipped", why: "critest skipped it: \(.message)"}
        else {verdict: "passed", why: ""} end));

def esc:
  gsub("[\u0000-\u0008\u000b\u000c\u000e-\u001f]"; "")
  | gsub("&"; "&amp;") | gsub("<"; "&lt;") | gsub(">"; "&gt;") | gsub("\""; "&quot;");

def count(v): map(select(.verdict == v)) | length;
def critest_count(v): map(select(.gtest != null and .critest == v)) | length;

verdicts as $v
| if $out == "xml" then
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<testsuites>",
    "<testsuite name=\"critest\" tests=\"\($v | length)\" failures=\"\($v | count("failed"))\" errors=\"0\" skipped=\"\($v | count("skipped"))\" time=\"\($v | map(.time) | add // 0)\">",
    ($v[] | "<testcase name=\"\(.name | esc)\" classname=\"critest\" time=\"\(.time)\">"
      + (if .verdict == "failed" then
           "<failure message=\"\(.why | split("\n")[0] | esc)\">\(.why | esc)</failure>"
         elif .verdict == "skipped" then
           "<skipped message=\"\(.why | split("\n")[0] | esc)\"/>"
         else "" end)
      + "</testcase>"),
    "</testsuite>",
    "</testsuites>"
  elif $out == "text" then
    ($v[] | select(.verdict != "passed" or .critest != "passed")
      | "\(.verdict | ascii_upcase): \(.name)\n    \(.why | gsub("\n"; "\n    "))"),
    "critest: \($v | critest_count("passed")) passed, \($v | critest_count("failed")) failed, \($v | critest_count("skipped")) skipped of \($v | map(select(.gtest != null)) | length) validation specs",
    "verdicts (with e2e/cri/not_yet.txt): \($v | count("passed")) passed, \($v | count("failed")) failed, \($v | count("skipped")) skipped"
  else error("--arg out must be xml or text") end
