#pragma once
// A constant Pad of the spatial axes merged into the window ops that read it (TPU-MLIR's
// TopFusePad): every reader must be a Conv (pad value 0) or an AvgPool counting padded cells
// with the same pad value; pads touching the batch or channel axis stay.
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/transforms/rewrite.hpp"

namespace mixq::transforms {

namespace detail {
/// TPU-MLIR refuses a merged pad above 15 (a hardware limit it checks in the TOP pass).
inline constexpr std::int64_t max_merged_pad = 15;

inline std::vector<std::int64_t> window_pads(const node& n) {
  if (n.is<top::conv_op>()) return *n.attributes<top::conv_op>().pads;
  return *n.attributes<top::avg_pool_op>().pads;
}
inline std::size_t window_rank(const node& n) {
  if (n.is<top::conv_op>()) return n.attributes<top::conv_op>().kernel_shape->size();
  return n.attributes<top::avg_pool_op>().kernel_shape->size();
}
template <class Op> void add_pads(rewriter& rw, int n, const std::vector<std::int64_t>& extra) {
  typename Op::attributes a = rw.at(n).template attributes<Op>();
  std::vector<std::int64_t> pads = *a.pads;
  for (std::size_t k = 0; k < pads.size(); ++k) pads[k] += extra[k];
  a.pads = pads;
  rw.model().template set_attributes<Op>(n, a);
}
}  // namespace detail

inline int fold_pad(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || !rw.at(n).is<top::pad_op>()) continue;
    const node& pad = rw.at(n);
    const auto& a = pad.attributes<top::pad_op>();
    const int in = pad.operands[0];
    const std::size_t rank = rw.shape_of(in).size();
    if (rank < 3 || a.mode->value != "constant") continue;
    if (pad.operands.size() > 1 && !rw.value(pad.operands[1]).type.is_none) continue;
    const std::vector<std::int64_t>& p = *a.paddings;
    if (p.size() != 2 * rank) continue;
    bool ok = p[0] == 0 && p[1] == 0 && p[rank] == 0 && p[rank + 1] == 0;
    for (auto v : p) ok = ok && v >= 0;
    const std::size_t spatial = rank - 2;
    std::vector<std::int64_t> extra(2 * spatial);
    for (std::size_t d = 0; d < spatial; ++d) {
      extra[d] = p[2 + d];
      extra[spatial + d] = p[rank + 2 + d];
    }
    const int out = pad.results[0];
    if (!ok || rw.users(out).empty() || rw.use_count(out) != rw.users(out).size()) continue;
    for (int u : rw.users(out)) {
      const node& user = rw.at(u);
      if (user.operands[0] != out || std::count(user.operands.begin(), user.operands.end(), out) != 1) ok = false;
      else if (user.is<top::conv_op>()) ok = ok && a.val == 0.0;
      else if (user.is<top::avg_pool_op>()) {
        const auto& pa = user.attributes<top::avg_pool_op>();
        ok = ok && pa.count_include_pad && static_cast<double>(pa.pad_value) == a.val && !pa.ceil_mode.value_or(false) &&
             !pa.auto_pad;
      } else ok = false;
      if (!ok) break;
      if (detail::window_rank(user) != spatial) ok = false;
      const auto wp = detail::window_pads(user);
      if (wp.size() != 2 * spatial) ok = false;
      for (std::size_t k = 0; ok && k < wp.size(); ++k) ok = wp[k] + extra[k] <= detail::max_merged_pad;
      if (!ok) break;
    }
    if (!ok) continue;
    const std::vector<int> readers = rw.users(out);
    for (int u : readers) {
      if (rw.at(u).is<top::conv_op>()) detail::add_pads<top::conv_op>(rw, u, extra);
      else detail::add_pads<top::avg_pool_op>(rw, u, extra);
    }
    rw.bypass(n, in);
    ++changed;
  }
  return changed;
}

}  // namespace mixq::transforms
