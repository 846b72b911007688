#pragma once
// Processors as C++ types: each states what it supports once (quantize modes, the float type it
// mixes in, asymmetric and INT4 support, per-channel weights), from facts doc §5-§6 and the
// developer manual's support table. Lowering rules are chosen at compile time from these types
// (see targets/lowering.hpp); drivers look processors up by name in the table derived from the
// one type list below.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/core/error.hpp"

namespace mixq::targets {

/// model_deploy's `--quantize` modes (and qtable modes) mixq knows.
enum class quant_mode : std::uint8_t { F32, F16, BF16, INT8, INT4, W8F16, W8BF16, W4F16, W4BF16, W4INT8, F8E4M3, F8E5M2 };

inline constexpr std::array all_quant_modes{quant_mode::F32,   quant_mode::F16,   quant_mode::BF16,   quant_mode::INT8,
                                            quant_mode::INT4,  quant_mode::W8F16, quant_mode::W8BF16, quant_mode::W4F16,
                                            quant_mode::W4BF16, quant_mode::W4INT8, quant_mode::F8E4M3, quant_mode::F8E5M2};

inline constexpr std::string_view mode_name(quant_mode m) {
  constexpr std::array<std::string_view, 12> names{"F32",   "F16",    "BF16",   "INT8",   "INT4",   "W8F16",
                                                   "W8BF16", "W4F16", "W4BF16", "W4INT8", "F8E4M3", "F8E5M2"};
  return names[static_cast<std::size_t>(m)];
}

/// Case-insensitive, as TPU-MLIR upper-cases `--quantize` and qtable modes.
inline std::optional<quant_mode> parse_quant_mode(std::string_view text) {
  std::string up(text);
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (quant_mode m : all_quant_modes)
    if (mode_name(m) == up) return m;
  return std::nullopt;
}

inline constexpr bool is_float_mode(quant_mode m) { return m == quant_mode::F32 || m == quant_mode::F16 || m == quant_mode::BF16; }
inline constexpr bool is_integer_mode(quant_mode m) { return m == quant_mode::INT8 || m == quant_mode::INT4 || m == quant_mode::W4INT8; }

/// A set of modes as a bit mask, usable in constant expressions.
struct mode_set {
  std::uint32_t bits = 0;
  constexpr mode_set() = default;
  constexpr mode_set(std::initializer_list<quant_mode> modes) {
    for (quant_mode m : modes) bits |= 1u << static_cast<unsigned>(m);
  }
  constexpr bool has(quant_mode m) const { return (bits >> static_cast<unsigned>(m)) & 1u; }
  std::vector<quant_mode> list() const {
    std::vector<quant_mode> out;
    for (quant_mode m : all_quant_modes)
      if (has(m)) out.push_back(m);
    return out;
  }
};

/// The integer arithmetic a processor's lowering and evaluator follow (docs/lowering_spec.md):
/// BM168x multipliers with HalfUp requant, BM1684's shifts only, CV18xx's QDM with thresholds.
enum class arithmetic_family : std::uint8_t { bm168x, bm1684, cv18xx };

/// Common ground of every processor type; each overrides what differs.
struct processor_base {
  static constexpr bool asymmetric = false;       // `--asymmetric` allowed
  static constexpr bool int4 = false;             // INT4 / `#int4_th` usable
  static constexpr bool per_channel_weights = true;
  static constexpr bool symmetric_calibration = false;  // the importer forces min = -max (CV18xx)
  static constexpr bool float_inputs = false;     // graph inputs stay F32 (CV18xx)
};

struct bm1684x : processor_base {
  static constexpr std::string_view name = "bm1684x";
  static constexpr arithmetic_family arithmetic = arithmetic_family::bm168x;
  static constexpr mode_set modes{quant_mode::F32,   quant_mode::F16,   quant_mode::BF16,  quant_mode::INT8,
                                  quant_mode::W4F16, quant_mode::W8F16, quant_mode::W4BF16, quant_mode::W8BF16};
  static constexpr quant_mode auto_float = quant_mode::F16;  // fp_type auto
  static constexpr mode_set mix_floats{quant_mode::F16, quant_mode::F32};
  static constexpr bool asymmetric = true;
};

struct bm1688 : bm1684x {
  static constexpr std::string_view name = "bm1688";
  static constexpr mode_set modes{quant_mode::F32,    quant_mode::F16,   quant_mode::BF16,  quant_mode::INT8,
                                  quant_mode::INT4,   quant_mode::W4INT8, quant_mode::W4F16, quant_mode::W8F16,
                                  quant_mode::W4BF16, quant_mode::W8BF16};
  static constexpr mode_set mix_floats{quant_mode::F16, quant_mode::BF16, quant_mode::F32};
  static constexpr bool int4 = true;
};

/// BM1690 is not in the manual's table; TPU-MLIR's FLOAT_MAP gives F16, its fp8 paths are its own.
/// Its mix types are missing from TPU-MLIR's chip_support_mix_fp_type (a bug): mixq gives it BM1684X's.
struct bm1690 : bm1684x {
  static constexpr std::string_view name = "bm1690";
  static constexpr mode_set modes{quant_mode::F32,   quant_mode::F16,   quant_mode::BF16,   quant_mode::INT8,
                                  quant_mode::W4F16, quant_mode::W8F16, quant_mode::W4BF16, quant_mode::W8BF16,
                                  quant_mode::F8E4M3, quant_mode::F8E5M2};
  static constexpr mode_set mix_floats{quant_mode::F16, quant_mode::BF16, quant_mode::F32};
};

struct cv186x : bm1684x {
  static constexpr std::string_view name = "cv186x";
  static constexpr mode_set modes{quant_mode::F32, quant_mode::F16, quant_mode::BF16, quant_mode::INT8, quant_mode::INT4};
  static constexpr mode_set mix_floats{quant_mode::F16, quant_mode::BF16, quant_mode::F32};
  static constexpr bool int4 = true;
};

/// BM1684: INT8 and F32 only, symmetric, per-tensor weights with shifts (no multipliers).
struct bm1684 : processor_base {
  static constexpr std::string_view name = "bm1684";
  static constexpr arithmetic_family arithmetic = arithmetic_family::bm1684;
  static constexpr mode_set modes{quant_mode::F32, quant_mode::INT8};
  static constexpr quant_mode auto_float = quant_mode::F32;
  static constexpr mode_set mix_floats{quant_mode::F32};
  static constexpr bool per_channel_weights = false;
};

/// CV183X and its smaller siblings: BF16 and INT8, symmetric only (min = -max), inputs in F32.
struct cv183x : processor_base {
  static constexpr std::string_view name = "cv183x";
  static constexpr arithmetic_family arithmetic = arithmetic_family::cv18xx;
  static constexpr mode_set modes{quant_mode::BF16, quant_mode::INT8};
  static constexpr quant_mode auto_float = quant_mode::BF16;
  static constexpr mode_set mix_floats{quant_mode::BF16};
  static constexpr bool symmetric_calibration = true;
  static constexpr bool float_inputs = true;
};
struct cv182x : cv183x {
  static constexpr std::string_view name = "cv182x";
};
struct cv181x : cv183x {
  static constexpr std::string_view name = "cv181x";
};
struct cv180x : cv183x {
  static constexpr std::string_view name = "cv180x";
};
/// CV184X: BF16, INT8, W4INT8; BF16 mixing. Despite the name it is not in the CV18xx row of the
/// support table (no forced-symmetric calibration, no F32 inputs): its INT8 arithmetic is the BM168x
/// one (multiplier and shift), which is also what the TPU dialect's kernels run for it.
struct cv184x : processor_base {
  static constexpr std::string_view name = "cv184x";
  static constexpr arithmetic_family arithmetic = arithmetic_family::bm168x;
  static constexpr mode_set modes{quant_mode::BF16, quant_mode::INT8, quant_mode::W4INT8};
  static constexpr quant_mode auto_float = quant_mode::BF16;
  static constexpr mode_set mix_floats{quant_mode::BF16};
};

template <class... P> struct processor_list {};
/// THE list of processors; the runtime table is derived from it.
using processors = processor_list<bm1684x, bm1684, bm1688, bm1690, cv186x, cv183x, cv182x, cv181x, cv180x, cv184x>;

template <class P>
concept processor = requires {
  { P::name } -> std::convertible_to<std::string_view>;
  { P::modes } -> std::convertible_to<mode_set>;
  { P::auto_float } -> std::convertible_to<quant_mode>;
  { P::arithmetic } -> std::convertible_to<arithmetic_family>;
};

/// True when processor P can deploy mode M (a constant expression: unsupported pairs can be
/// rejected at compile time).
template <processor P, quant_mode M> inline constexpr bool supports_mode = P::modes.has(M);

/// A deployment fixed at compile time. Naming a mode the processor cannot deploy does not
/// compile (tests/compile_fail pins that), e.g. deployment<cv183x, quant_mode::F16>.
template <processor P, quant_mode M>
  requires supports_mode<P, M>
struct deployment {
  using chip = P;
  static constexpr quant_mode mode = M;
};

/// What drivers see of a processor.
struct processor_info {
  std::string_view name;
  arithmetic_family arithmetic;
  mode_set modes;
  quant_mode auto_float;
  mode_set mix_floats;
  bool asymmetric, int4, per_channel_weights, symmetric_calibration, float_inputs;

  /// TPU-MLIR's qtable rewrite (facts §1.3): CV18xx turns F32/F16 into BF16, BM1684 anything
  /// but INT8 into F32.
  quant_mode qtable_mode(quant_mode m) const {
    if (arithmetic == arithmetic_family::cv18xx && (m == quant_mode::F32 || m == quant_mode::F16)) return quant_mode::BF16;
    if (arithmetic == arithmetic_family::bm1684 && m != quant_mode::INT8) return quant_mode::F32;
    return m;
  }
};

template <processor P> constexpr processor_info info_of() {
  return {P::name, P::arithmetic, P::modes, P::auto_float, P::mix_floats, P::asymmetric, P::int4, P::per_channel_weights,
          P::symmetric_calibration, P::float_inputs};
}

template <class... P> constexpr auto processor_table(processor_list<P...>) { return std::array<processor_info, sizeof...(P)>{info_of<P>()...}; }

inline constexpr auto all_processors = processor_table(processors{});

/// Looks a processor up by name (case-insensitive); the error lists the known ones.
inline const processor_info& find_processor(std::string_view name) {
  std::string low(name);
  std::transform(low.begin(), low.end(), low.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& p : all_processors)
    if (p.name == low) return p;
  std::string known;
  for (const auto& p : all_processors) known += (known.empty() ? "" : ", ") + std::string(p.name);
  throw error("unknown processor \"" + std::string(name) + "\" (mixq knows " + known + ")");
}

/// Checks that `p` can deploy `m`; the error says which modes it can.
inline void require_mode(const processor_info& p, quant_mode m) {
  if (p.modes.has(m)) return;
  std::string modes;
  for (quant_mode x : p.modes.list()) modes += (modes.empty() ? "" : ", ") + std::string(mode_name(x));
  throw error(std::string(p.name) + " does not support --quantize " + std::string(mode_name(m)) + " (it supports " + modes + ")");
}

}  // namespace mixq::targets
