// libFuzzer target for the whole front end: bytes → an in-memory policy tree
// (with the real stdlib) → parse, check, merge, lower, explain, graph, and the
// diagnostics rendered in every output format.
//
// The input is one file, `org.dpl`. If it contains split-file markers
// (a line `//--- services/api.dpl`), each section is a file of that name
// instead, so the lit tests are seeds as they are and the fuzzer can reach
// checks that need several stakeholders' files.
#include "common/CanonicalJson.h"
#include "compiler/driver/Compilation.h"
#include "compiler/driver/Explain.h"
#include "compiler/driver/Graph.h"
#include "compiler/lower/Lower.h"
#include "compiler/parse/FastLexer.h"
#include "compiler/parse/Parser.h"
#include "runtime/plan/Plan.h"

#include <llvm/Support/ConvertUTF.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/raw_ostream.h>

#include <cstdint>
#include <functional>
#include <pthread.h>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace {

/// The stdlib, read from disk once; it is parsed again for every input
/// because its AST points into each compilation's source buffers.
std::vector<dpl::SourceText> gStdlib;

void readStdlib() {
  const char *dir = std::getenv("DEPLOYC_FUZZ_STDLIB");
  std::string root = dir ? dir : DEPLOYC_STDLIB_DIR;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(root, ec), end; it != end && !ec; it.increment(ec)) {
    if (llvm::sys::path::extension(it->path()) != ".dpl")
      continue;
    auto buf = llvm::MemoryBuffer::getFile(it->path());
    if (!buf)
      continue;
    gStdlib.push_back({llvm::sys::path::filename(it->path()).str(), (*buf)->getBuffer().str()});
  }
  if (ec || gStdlib.empty()) {
    std::fprintf(stderr, "fuzz_frontend: no stdlib in %s (set DEPLOYC_FUZZ_STDLIB)\n", root.c_str());
    std::abort();
  }
}

/// A name the directory walk could produce: relative, no empty, `.` or `..`
/// components, ending in `.dpl`.
bool isTreePath(llvm::StringRef path) {
  if (!path.endswith(".dpl") || path.size() > 200)
    return false;
  llvm::SmallVector<llvm::StringRef, 8> parts;
  path.split(parts, '/');
  for (llvm::StringRef p : parts)
    if (p.empty() || p == "." || p == ".." || p.contains('\0'))
      return false;
  return true;
}

/// Splits `input` at split-file markers (`//--- NAME` lines); no marker: one
/// file `org.dpl`. Like `split-file --leading-lines`, each file keeps blank
/// lines in place of everything before it, so line numbers match the input.
std::vector<dpl::SourceText> splitInput(llvm::StringRef input) {
  std::vector<dpl::SourceText> files;
  std::set<std::string> names;
  bool anyMarker = false;
  size_t current = SIZE_MAX, lineNo = 0;
  for (size_t pos = 0; pos < input.size();) {
    size_t eol = input.find('\n', pos);
    size_t next = eol == llvm::StringRef::npos ? input.size() : eol + 1;
    llvm::StringRef line = input.slice(pos, next);
    pos = next;
    ++lineNo;
    if (line.startswith("//--- ")) {
      anyMarker = true;
      std::string name = line.drop_front(6).trim().str();
      current = SIZE_MAX;
      if (isTreePath(name) && files.size() < 32 && names.insert(name).second) {
        current = files.size();
        files.push_back({name, std::string(lineNo, '\n')});
      }
      continue;
    }
    if (current != SIZE_MAX)
      files[current].text += line.str();
  }
  if (!anyMarker)
    return {}; // no marker: the caller uses the whole input
  return files;
}

void checkValidJson(const std::string &text, const char *what) {
  if (auto parsed = llvm::json::parse(text); !parsed) {
    std::fprintf(stderr, "fuzz_frontend: %s output is not valid JSON: %s\n%s\n", what,
                 llvm::toString(parsed.takeError()).c_str(), text.c_str());
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  readStdlib();
  return 0;
}

/// Runs `fn` on a thread with a 512 MiB stack and waits for it.
static void onLargeStack(const std::function<void()> &fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, size_t(512) << 20);
  pthread_t thread;
  auto trampoline = [](void *arg) -> void * {
    (*static_cast<const std::function<void()> *>(arg))();
    return nullptr;
  };
  if (pthread_create(&thread, &attr, trampoline, const_cast<std::function<void()> *>(&fn)) != 0) {
    std::fprintf(stderr, "fuzz_frontend: cannot start a thread\n");
    std::abort();
  }
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

/// The AST and the diagnostics of one file parsed with the fast paths on
/// or off (empty for text that is not UTF-8, which is never parsed).
static std::string parsedTwice(const std::string &text, bool fast) {
  const llvm::UTF8 *p = reinterpret_cast<const llvm::UTF8 *>(text.data());
  if (!llvm::isLegalUTF8String(&p, p + text.size()))
    return "";
  dpl::SourceManager sources;
  dpl::DiagnosticEngine diags(sources);
  dpl::ast::ASTContext ctx;
  unsigned id = sources.addBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "f.dpl"), "f.dpl", "f.dpl");
  dpl::ParseOptions parse;
  parse.fastPaths = fast;
  dpl::ast::SourceFile *file = dpl::parseFile(id, "f.dpl", false, ctx, diags, parse);
  std::string out = dpl::ast::dump(*file, sources.text(id).data());
  llvm::raw_string_ostream os(out);
  dpl::RenderOptions render;
  render.format = dpl::OutputFormat::Text;
  dpl::renderDiagnostics(diags, os, render);
  os.flush();
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef input(reinterpret_cast<const char *>(data), size);
  dpl::CompileOptions options;
  options.root = "policy";
  options.stdlibDir = "stdlib";
  options.stdlibTexts = gStdlib;
  options.policyTexts = splitInput(input);
  if (options.policyTexts.empty())
    options.policyTexts.push_back({"org.dpl", input.str()});
  options.maxErrors = 20;
  // The hand-written lexer and parser must give ANTLR's tokens, AST and
  // diagnostics whenever they take a file or a declaration.
  for (const dpl::SourceText &t : options.policyTexts) {
    std::string diff;
    if (dpl::compareLexers(t.text, &diff) == dpl::LexerAgreement::Different) {
      std::fprintf(stderr, "fuzz_frontend: the fast lexer differs from ANTLR's in %s: %s\n", t.relPath.c_str(),
                   diff.c_str());
      std::abort();
    }
    std::string fast, slow;
    // ast::dump recurses once per level of the AST, which the parser's
    // limits allow to be thousands deep; give it room under ASan.
    onLargeStack([&] {
      fast = parsedTwice(t.text, true);
      slow = parsedTwice(t.text, false);
    });
    if (fast != slow) {
      std::fprintf(stderr, "fuzz_frontend: the fast parser differs from ANTLR's in %s:\n--- fast\n%s\n--- ANTLR\n%s\n",
                   t.relPath.c_str(), fast.c_str(), slow.c_str());
      std::abort();
    }
  }
  dpl::Compilation comp(options);
  bool ok = comp.run();

  // Every renderer, each over the same diagnostics.
  for (dpl::OutputFormat format : {dpl::OutputFormat::Text, dpl::OutputFormat::Json,
                                   dpl::OutputFormat::Sarif, dpl::OutputFormat::Github}) {
    dpl::RenderOptions render;
    render.format = format;
    render.toolVersion = "fuzz";
    render.color = format == dpl::OutputFormat::Text;
    render.uriBase = "policy/";
    std::string out;
    llvm::raw_string_ostream os(out);
    dpl::renderDiagnostics(comp.diags(), os, render);
    os.flush();
    if (format == dpl::OutputFormat::Json)
      checkValidJson(out, "json");
    if (format == dpl::OutputFormat::Sarif)
      checkValidJson(out, "sarif");
  }
  if (!ok || !comp.model())
    return 0;

  // A clean tree: its plan, and what `explain` and `graph` print. The plan
  // must load in the runtime and print back byte for byte.
  std::string plan = dpl::prettyJson(dpl::lowerPlan(*comp.model(), comp.merged()));
  auto loaded = dpl::runtime::loadPlan(plan);
  if (!loaded) {
    std::fprintf(stderr, "fuzz_frontend: the runtime rejects the compiled plan: %s\n%s\n",
                 llvm::toString(loaded.takeError()).c_str(), plan.c_str());
    std::abort();
  }
  if (dpl::prettyJson(dpl::runtime::toJson(*loaded)) != plan) {
    std::fprintf(stderr, "fuzz_frontend: the plan does not print back as compiled\n%s\n", plan.c_str());
    std::abort();
  }
  llvm::raw_null_ostream sink;
  for (const dpl::Unit &unit : comp.merged().units) {
    dpl::explainUnitText(unit, sink);
    std::string json;
    llvm::raw_string_ostream os(json);
    dpl::explainUnitJson(unit, os);
    os.flush();
    checkValidJson(json, "explain json");
  }
  dpl::graphDot(*comp.model(), comp.merged(), sink);
  dpl::graphMermaid(*comp.model(), comp.merged(), sink);
  return 0;
}
