// Rendering the promotion graph.
#include "compiler/driver/Graph.h"

#include <functional>
#include <map>

namespace dpl {

namespace {

/// "approval(sre ×2)", "soak 2m", "window mon-fri 07:00-19:00 UTC" …
std::string guardLabel(const ResolvedGuard &g) {
  auto arg = [&](const char *n) -> const Value * {
    for (auto &[k, v] : g.args)
      if (k == n)
        return &v;
    return nullptr;
  };
  if (g.kind == "approval") {
    std::string out = "approval " + (arg("group") ? arg("group")->s : "?");
    if (const Value *c = arg("count"); c && c->i > 1)
      out += " ×" + std::to_string(c->i);
    return out;
  }
  if (g.kind == "soak" && arg("duration"))
    return "soak " + toSource(*arg("duration"));
  if (g.kind == "window" && arg("from") && arg("to"))
    return "window " + toSource(*arg("from")) + "–" + toSource(*arg("to")) + " " +
           (arg("tz") ? arg("tz")->s : "UTC");
  if (g.kind == "resource" && arg("name"))
    return "resource " + arg("name")->s;
  if (g.kind == "metric" && arg("query"))
    return "metric " + arg("query")->s;
  return g.kind;
}

std::vector<std::string> unitLines(const Unit &u) {
  std::vector<std::string> gates, verify;
  if (const ResolvedField *h = u.field("health"); h && !h->value.isNull())
    verify.push_back("health");
  for (auto &g : u.guards)
    (g.phase == GuardPhase::Gate ? gates : verify).push_back(guardLabel(g));
  std::vector<std::string> out = {u.service};
  for (auto &g : gates)
    out.push_back("gate: " + g);
  for (auto &v : verify)
    out.push_back("verify: " + v);
  return out;
}

std::string dotEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string mermaidId(const std::string &s) {
  std::string out;
  for (char c : s)
    out += (isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

std::string mermaidText(const std::string &s) {
  std::string out;
  for (char c : s)
    out += c == '"' ? std::string("#quot;") : std::string(1, c);
  return out;
}

/// Units per environment, dependencies first (left to right), then by name.
std::map<std::string, std::vector<const Unit *>> byEnvironment(const Model &model, const MergeResult &merged) {
  std::map<std::string, unsigned> depth;
  std::function<unsigned(const std::string &, unsigned)> depthOf = [&](const std::string &svc, unsigned guard) {
    auto it = depth.find(svc);
    if (it != depth.end())
      return it->second;
    unsigned d = 0;
    if (const ServiceInfo *s = model.service(svc); s && guard < 1000)
      for (auto &dep : s->dependsOn)
        d = std::max(d, depthOf(dep, guard + 1) + 1);
    return depth[svc] = d;
  };
  std::map<std::string, std::vector<const Unit *>> out;
  for (auto &u : merged.units)
    out[u.environment].push_back(&u);
  for (auto &[env, units] : out)
    std::stable_sort(units.begin(), units.end(), [&](const Unit *a, const Unit *b) {
      return depthOf(a->service, 0) < depthOf(b->service, 0);
    });
  return out;
}

} // namespace

void graphDot(const Model &model, const MergeResult &merged, llvm::raw_ostream &os) {
  // Promotion flows top to bottom; the units of one environment sit on one
  // rank, with depends_on edges between them (not affecting the ranking).
  os << "digraph deployc {\n"
        "  rankdir=TB;\n  compound=true;\n  newrank=true;\n  nodesep=0.3;\n  ranksep=0.5;\n"
        "  node [shape=box, style=\"rounded\", fontname=\"Helvetica\", fontsize=10];\n"
        "  edge [color=\"#555555\"];\n";
  auto envs = byEnvironment(model, merged);
  for (auto &e : model.environments)
    envs[e.decl->name.text]; // environments without services still appear
  for (auto &[env, units] : envs) {
    os << "  subgraph \"cluster_" << dotEscape(env) << "\" {\n    label=\"" << dotEscape(env)
       << "\";\n    style=\"rounded,filled\";\n    fillcolor=\"#f4f6fb\";\n";
    if (units.empty())
      os << "    \"" << dotEscape(env) << "\" [shape=point, style=invis];\n";
    for (const Unit *u : units) {
      std::string label;
      for (auto &l : unitLines(*u))
        label += (label.empty() ? "" : "\\n") + dotEscape(l);
      os << "    \"" << dotEscape(u->service + "@" + env) << "\" [label=\"" << label << "\"];\n";
    }
    if (!units.empty()) {
      os << "    { rank=same;";
      for (const Unit *u : units)
        os << " \"" << dotEscape(u->service + "@" + env) << "\";";
      os << " }\n";
    }
    os << "  }\n";
  }
  for (auto &u : merged.units)
    for (auto &w : u.waitsFor) {
      bool dependency = w.substr(w.find('@') + 1) == u.environment;
      os << "  \"" << dotEscape(w) << "\" -> \"" << dotEscape(u.service + "@" + u.environment) << "\"";
      if (dependency)
        os << " [style=dashed, label=\"depends_on\", fontsize=8, constraint=false]";
      os << ";\n";
    }
  os << "}\n";
}

void graphMermaid(const Model &model, const MergeResult &merged, llvm::raw_ostream &os) {
  os << "flowchart LR\n";
  auto envs = byEnvironment(model, merged);
  for (auto &e : model.environments)
    envs[e.decl->name.text];
  for (auto &[env, units] : envs) {
    os << "  subgraph " << mermaidId("env_" + env) << " [\"" << mermaidText(env) << "\"]\n";
    for (const Unit *u : units) {
      std::string label;
      for (auto &l : unitLines(*u))
        label += (label.empty() ? "" : "<br/>") + mermaidText(l);
      os << "    " << mermaidId(u->service + "@" + env) << "[\"" << label << "\"]\n";
    }
    os << "  end\n";
  }
  for (auto &u : merged.units)
    for (auto &w : u.waitsFor) {
      bool dependency = w.substr(w.find('@') + 1) == u.environment;
      os << "  " << mermaidId(w) << (dependency ? " -. depends_on .-> " : " --> ")
         << mermaidId(u.service + "@" + u.environment) << "\n";
    }
}

} // namespace dpl
