// Rendering diagnostics as clang-style text, JSON, SARIF 2.1.0 and GitHub
// workflow commands.
#include "compiler/basic/Diagnostics.h"

#include <llvm/Support/JSON.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/WithColor.h>

namespace dpl {

namespace {

const char *severityName(Severity s) {
  switch (s) {
  case Severity::Error: return "error";
  case Severity::Warning: return "warning";
  case Severity::Note: return "note";
  }
  return "error";
}

struct Span {
  std::string file;
  unsigned line = 0, column = 0, endLine = 0, endColumn = 0;
  size_t byte = 0, endByte = 0;
  bool valid = false;
};

/// A message format for people: `{0}` placeholders become `…`.
std::string placeholders(llvm::StringRef format) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '{' && i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (format[i] == '}' && i + 1 < format.size() && format[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (format[i] == '{') {
      size_t close = format.find('}', i);
      out += "…";
      i = close == llvm::StringRef::npos ? format.size() : close;
    } else {
      out += format[i];
    }
  }
  return out;
}

/// Control characters from the source never reach the terminal or a CI log
/// raw (no escape-sequence injection): they are shown as `\xNN`.
std::string sanitize(llvm::StringRef s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
      out += fmt::format("\\x{:02X}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

/// 1-based column of `loc` counted in Unicode code points (SARIF's default
/// column kind), rather than bytes.
unsigned codePointColumn(llvm::StringRef text, size_t off) {
  size_t lineStart = off;
  while (lineStart > 0 && text[lineStart - 1] != '\n')
    --lineStart;
  unsigned col = 1;
  for (size_t i = lineStart; i < off; ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80)
      ++col;
  return col;
}

Span spanOf(SourceManager &sm, llvm::SMRange r, const std::string &fallbackFile,
            bool codePoints = false) {
  Span s;
  unsigned buf = sm.bufferOf(r.Start);
  if (!buf) {
    s.file = fallbackFile;
    return s;
  }
  s.valid = true;
  s.file = sm.displayPath(buf);
  LineCol a = sm.lineCol(r.Start);
  llvm::SMLoc endLoc = r.End.isValid() && r.End.getPointer() > r.Start.getPointer() ? r.End : r.Start;
  LineCol b = sm.lineCol(endLoc);
  s.line = a.line;
  s.column = a.column;
  s.endLine = b.line;
  s.endColumn = b.column == a.column && b.line == a.line ? a.column + 1 : b.column;
  const char *base = sm.text(buf).data();
  s.byte = r.Start.getPointer() - base;
  s.endByte = endLoc.getPointer() - base;
  if (codePoints) {
    s.column = codePointColumn(sm.text(buf), s.byte);
    s.endColumn = s.endByte > s.byte ? codePointColumn(sm.text(buf), s.endByte) : s.column + 1;
  }
  return s;
}

/// Prints one clang-style message: location, severity, message, then the
/// source line (a window around the column when the line is long) with a
/// caret and `~` under the range.
void printMessage(SourceManager &sm, llvm::raw_ostream &os, bool color, llvm::SMRange range,
                  Severity sev, const std::string &msg, const std::string &file) {
  auto colored = [&](llvm::raw_ostream::Colors c, bool bold, llvm::StringRef text) {
    if (color)
      os.changeColor(c, bold);
    os << text;
    if (color)
      os.resetColor();
  };
  unsigned buf = sm.bufferOf(range.Start);
  std::string where = buf ? sm.displayPath(buf) : file;
  LineCol lc = buf ? sm.lineCol(range.Start) : LineCol{};
  if (!where.empty()) {
    std::string loc = where;
    if (buf)
      loc += ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
    colored(llvm::raw_ostream::SAVEDCOLOR, true, loc + ": ");
  }
  switch (sev) {
  case Severity::Error: colored(llvm::raw_ostream::RED, true, "error: "); break;
  case Severity::Warning: colored(llvm::raw_ostream::MAGENTA, true, "warning: "); break;
  case Severity::Note: colored(llvm::raw_ostream::BLACK, true, "note: "); break;
  }
  colored(llvm::raw_ostream::SAVEDCOLOR, true, sanitize(msg));
  os << "\n";
  if (!buf)
    return;
  llvm::StringRef text = sm.text(buf);
  size_t off = range.Start.getPointer() - text.data();
  size_t lineStart = text.rfind('\n', off == 0 ? 0 : off - 1);
  lineStart = (lineStart == llvm::StringRef::npos || off == 0) ? 0 : lineStart + 1;
  if (off > 0 && text[off - 1] == '\n')
    lineStart = off;
  size_t lineEnd = text.find_first_of("\r\n", off);
  if (lineEnd == llvm::StringRef::npos)
    lineEnd = text.size();
  size_t endOff = range.End.isValid() && range.End.getPointer() > range.Start.getPointer()
                      ? std::min<size_t>(range.End.getPointer() - text.data(), lineEnd)
                      : off + 1;
  // Long lines: show a window of at most 120 columns around the caret.
  constexpr size_t kWidth = 120;
  size_t from = lineStart, to = lineEnd;
  bool cutLeft = false, cutRight = false;
  if (lineEnd - lineStart > kWidth) {
    from = off > lineStart + kWidth / 2 ? off - kWidth / 2 : lineStart;
    to = std::min(lineEnd, from + kWidth);
    cutLeft = from > lineStart;
    cutRight = to < lineEnd;
  }
  std::string line, marks;
  if (cutLeft) {
    line += "...";
    marks += "   ";
  }
  for (size_t i = from; i < to; ++i) {
    char c = text[i];
    unsigned char uc = static_cast<unsigned char>(c);
    if ((uc < 0x20 && c != '\t') || uc == 0x7F) {
      line += '?'; // a control character: one column, never echoed raw
      marks += i == off ? '^' : (i > off && i < endOff) ? '~' : ' ';
      continue;
    }
    line += c == '\t' ? ' ' : c;
    // Continuation bytes of UTF-8 take no column of their own.
    if ((static_cast<unsigned char>(c) & 0xC0) == 0x80)
      continue;
    marks += i == off ? '^' : (i > off && i < endOff) ? '~' : ' ';
  }
  if (off >= to)
    marks += '^';
  if (cutRight)
    line += "...";
  while (!marks.empty() && marks.back() == ' ')
    marks.pop_back();
  os << line << "\n";
  colored(llvm::raw_ostream::GREEN, true, marks);
  os << "\n";
}

void renderText(DiagnosticEngine &engine, llvm::raw_ostream &os, bool color) {
  SourceManager &sm = engine.sources();
  for (const Diagnostic *d : engine.shown()) {
    std::string msg = d->message + " [" + diagInfo(d->id).id + "]";
    printMessage(sm, os, color, d->range, d->severity, msg, d->file);
    for (const DiagNote &n : d->notes)
      printMessage(sm, os, color, n.range, Severity::Note, n.message, "");
  }
  if (engine.droppedAny())
    os << "deployc: too many errors emitted, stopping now (use --max-errors 0 for all)\n";
  std::string summary = diagnosticSummary(engine);
  if (!summary.empty())
    os << summary << ".\n";
}

llvm::json::Object jsonPos(unsigned line, unsigned col, size_t byte) {
  return llvm::json::Object{{"line", line}, {"column", col}, {"byte", static_cast<int64_t>(byte)}};
}

llvm::json::Value jsonRange(const Span &s) {
  if (!s.valid) {
    if (s.file.empty())
      return nullptr;
    return llvm::json::Object{{"filename", s.file}};
  }
  return llvm::json::Object{{"filename", s.file},
                            {"start", jsonPos(s.line, s.column, s.byte)},
                            {"end", jsonPos(s.endLine, s.endColumn, s.endByte)}};
}

void renderJson(DiagnosticEngine &engine, llvm::raw_ostream &os) {
  SourceManager &sm = engine.sources();
  llvm::json::Array diags;
  for (const Diagnostic *d : engine.shown()) {
    const DiagInfo &info = diagInfo(d->id);
    llvm::json::Array notes;
    for (const DiagNote &n : d->notes)
      notes.push_back(llvm::json::Object{{"message", n.message},
                                         {"range", jsonRange(spanOf(sm, n.range, ""))}});
    diags.push_back(llvm::json::Object{{"id", info.id},
                                       {"name", info.name},
                                       {"severity", severityName(d->severity)},
                                       {"summary", d->message},
                                       {"range", jsonRange(spanOf(sm, d->range, d->file))},
                                       {"notes", std::move(notes)}});
  }
  // Counts describe the diagnostics listed (after --max-errors), like the
  // text summary; `truncated` says whether more were found.
  unsigned shownErrors = 0, shownWarnings = 0;
  for (const Diagnostic *d : engine.shown()) {
    shownErrors += d->severity == Severity::Error;
    shownWarnings += d->severity == Severity::Warning;
  }
  llvm::json::Object root{{"format_version", "1.0"},
                          {"valid", !engine.hasErrors()},
                          {"error_count", shownErrors},
                          {"warning_count", shownWarnings},
                          {"truncated", engine.droppedAny()},
                          {"diagnostics", std::move(diags)}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}

/// Repository-relative URI for SARIF: relative to the working directory,
/// forward slashes, percent-encoding of spaces.
/// Repository-relative URI for SARIF: the path made absolute and normalised,
/// then relative to the working directory (the repository root in CI);
/// forward slashes, spaces and `%` percent-encoded. A path outside the
/// working directory becomes an absolute `file://` URI.
std::pair<std::string, bool> sarifUri(const std::string &path) {
  llvm::SmallString<256> p(path);
  llvm::sys::fs::make_absolute(p);
  llvm::sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  llvm::SmallString<256> cwd;
  bool relative = false;
  if (!llvm::sys::fs::current_path(cwd)) {
    llvm::sys::path::remove_dots(cwd, true);
    llvm::StringRef rel(p);
    if (rel.consume_front(cwd) && rel.consume_front("/")) {
      std::string tail = rel.str(); // `rel` points into `p`: copy before assigning
      p = tail;
      relative = true;
    }
  }
  // RFC 3986: keep unreserved characters and `/`, percent-encode the rest
  // (including every byte of non-ASCII UTF-8).
  std::string out = relative ? "" : "file://";
  for (unsigned char c : p) {
    if (llvm::isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return {out, relative};
}

llvm::json::Object sarifLocation(const Span &s) {
  auto [uri, relative] = sarifUri(s.file);
  llvm::json::Object artifact{{"uri", uri}};
  if (relative)
    artifact["uriBaseId"] = "%SRCROOT%";
  llvm::json::Object phys{{"artifactLocation", std::move(artifact)}};
  if (s.valid)
    phys["region"] = llvm::json::Object{{"startLine", s.line},
                                        {"startColumn", s.column},
                                        {"endLine", s.endLine},
                                        {"endColumn", s.endColumn}};
  return llvm::json::Object{{"physicalLocation", std::move(phys)}};
}

void renderSarif(DiagnosticEngine &engine, llvm::raw_ostream &os, const RenderOptions &opts) {
  SourceManager &sm = engine.sources();
  llvm::json::Array rules;
  std::vector<int> ruleIndex(allDiagInfos().size(), -1);
  int next = 0;
  for (size_t i = 0; i < allDiagInfos().size(); ++i) {
    const DiagInfo &info = allDiagInfos()[i];
    if (info.severity == Severity::Note)
      continue;
    ruleIndex[i] = next++;
    rules.push_back(llvm::json::Object{
        {"id", info.id},
        {"name", info.name},
        {"shortDescription", llvm::json::Object{{"text", info.name}}},
        {"fullDescription", llvm::json::Object{{"text", placeholders(info.format)}}},
        {"defaultConfiguration",
         llvm::json::Object{{"level", severityName(info.severity)}}}});
  }
  llvm::json::Array results;
  for (const Diagnostic *d : engine.shown()) {
    const DiagInfo &info = diagInfo(d->id);
    Span span = spanOf(sm, d->range, d->file, /*codePoints=*/true);
    std::string text = d->message;
    llvm::json::Array related;
    int relId = 1;
    for (const DiagNote &n : d->notes) {
      Span ns = spanOf(sm, n.range, "", /*codePoints=*/true);
      if (!ns.valid) {
        text += "\n" + n.message; // hints become part of the message
        continue;
      }
      llvm::json::Object loc = sarifLocation(ns);
      loc["id"] = relId++;
      loc["message"] = llvm::json::Object{{"text", n.message}};
      related.push_back(std::move(loc));
    }
    llvm::json::Object result{{"ruleId", info.id},
                              {"ruleIndex", ruleIndex[static_cast<size_t>(d->id)]},
                              {"level", severityName(d->severity)},
                              {"message", llvm::json::Object{{"text", text}}},
                              {"locations", llvm::json::Array{sarifLocation(span)}}};
    if (!related.empty())
      result["relatedLocations"] = std::move(related);
    results.push_back(std::move(result));
  }
  llvm::json::Object driver{{"name", "deployc"},
                            {"version", opts.toolVersion},
                            {"informationUri", "https://deployc.dev"},
                            {"rules", std::move(rules)}};
  llvm::json::Object run{{"tool", llvm::json::Object{{"driver", std::move(driver)}}},
                         {"columnKind", "unicodeCodePoints"},
                         {"results", std::move(results)}};
  llvm::json::Object root{{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                          {"version", "2.1.0"},
                          {"runs", llvm::json::Array{std::move(run)}}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}

/// Escaping rules of GitHub workflow commands (data and property values).
std::string ghEscape(llvm::StringRef s, bool property) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '%': out += "%25"; break;
    case '\r': out += "%0D"; break;
    case '\n': out += "%0A"; break;
    case ':': out += property ? "%3A" : ":"; break;
    case ',': out += property ? "%2C" : ","; break;
    default: out += c;
    }
  }
  return out;
}

void renderGithub(DiagnosticEngine &engine, llvm::raw_ostream &os) {
  SourceManager &sm = engine.sources();
  for (const Diagnostic *d : engine.shown()) {
    const DiagInfo &info = diagInfo(d->id);
    Span s = spanOf(sm, d->range, d->file);
    std::string text = d->message;
    for (const DiagNote &n : d->notes) {
      Span ns = spanOf(sm, n.range, "");
      if (ns.valid)
        text += fmt::format("\nnote: {}:{}:{}: {}", ns.file, ns.line, ns.column, n.message);
      else
        text += "\nnote: " + n.message;
    }
    os << "::" << (d->severity == Severity::Error ? "error" : "warning");
    if (!s.file.empty()) {
      os << " file=" << ghEscape(s.file, true);
      if (s.valid)
        os << ",line=" << s.line << ",col=" << s.column << ",endLine=" << s.endLine
           << ",endColumn=" << s.endColumn;
      os << ",";
    } else {
      os << " ";
    }
    os << "title=" << ghEscape(std::string(info.id) + " " + info.name, true) << "::"
       << ghEscape(text, false) << "\n";
  }
}

} // namespace

void renderDiagnostics(DiagnosticEngine &engine, llvm::raw_ostream &os,
                       const RenderOptions &options) {
  switch (options.format) {
  case OutputFormat::Text: renderText(engine, os, options.color); break;
  case OutputFormat::Json: renderJson(engine, os); break;
  case OutputFormat::Sarif: renderSarif(engine, os, options); break;
  case OutputFormat::Github: renderGithub(engine, os); break;
  }
}

} // namespace dpl
