// Cycle detection for `after` and `depends_on` graphs, iterative so that a
// chain of any length cannot exhaust the stack.
#pragma once

#include <llvm/Support/SMLoc.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace dpl {

struct CycleEdge {
  std::string to;
  llvm::SMRange at; ///< where the edge is written
};
using CycleGraph = std::map<std::string, std::vector<CycleEdge>>;

/// Depth-first search from every node in name order; calls `onCycle` once
/// per distinct set of nodes on a cycle, with the nodes in path order and the
/// edge leaving each node (edges[i] goes from nodes[i] to nodes[i + 1], the
/// last one back to nodes[0]). Edges to unknown nodes are ignored.
inline void forEachCycle(const CycleGraph &g,
                         const std::function<void(const std::vector<std::string> &,
                                                  const std::vector<const CycleEdge *> &)> &onCycle) {
  std::map<std::string, int> state; // 0 new, 1 on the path, 2 done
  std::set<std::set<std::string>> reported;
  for (auto &[root, _] : g) {
    if (state[root])
      continue;
    std::vector<std::pair<const std::string *, size_t>> frames{{&root, 0}};
    std::vector<const CycleEdge *> pathEdges; // pathEdges[j]: frames[j] → frames[j + 1]
    state[root] = 1;
    while (!frames.empty()) {
      auto &[node, next] = frames.back();
      const std::vector<CycleEdge> &edges = g.find(*node)->second;
      if (next == edges.size()) {
        state[*node] = 2;
        frames.pop_back();
        if (!pathEdges.empty())
          pathEdges.pop_back();
        continue;
      }
      const CycleEdge &e = edges[next++];
      auto target = g.find(e.to);
      if (target == g.end())
        continue;
      int s = state[e.to];
      if (s == 0) {
        state[e.to] = 1;
        pathEdges.push_back(&e);
        frames.push_back({&target->first, 0});
      } else if (s == 1) {
        size_t k = 0;
        while (*frames[k].first != e.to)
          ++k;
        std::vector<std::string> nodes;
        std::vector<const CycleEdge *> cycleEdges;
        for (size_t j = k; j < frames.size(); ++j) {
          nodes.push_back(*frames[j].first);
          cycleEdges.push_back(j + 1 < frames.size() ? pathEdges[j] : &e);
        }
        if (reported.insert(std::set<std::string>(nodes.begin(), nodes.end())).second)
          onCycle(nodes, cycleEdges);
      }
    }
  }
}

} // namespace dpl
