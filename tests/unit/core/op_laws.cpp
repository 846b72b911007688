// Properties every op struct must have, checked over the one compile-time op list.
#include "test_support.hpp"

#include <set>
#include <tuple>

#include "mixq/dialect/top/op_list.hpp"

using namespace mixq;

namespace {
template <class L> struct as_tuple;
template <class... Ops> struct as_tuple<top::op_list<Ops...>> {
  using type = std::tuple<Ops...>;
};
using every_op = as_tuple<top::all_ops>::type;
}  // namespace

TEMPLATE_LIST_TEST_CASE("op is registered under its mnemonic", "[laws]", every_op) {
  const top::op_info* info = top::ops().find(TestType::mnemonic);
  REQUIRE(info != nullptr);
  CHECK((info->mnemonic.substr(0, 4) == "top." || info->mnemonic.substr(0, 4) == "tpu."));
  CHECK(info->num_results == TestType::num_results);
  CHECK(info->compute != nullptr);
  CHECK(info->reference != nullptr);
}

TEMPLATE_LIST_TEST_CASE("op attributes survive encode and decode", "[laws]", every_op) {
  typename TestType::attributes defaults{};
  attr_dict once;
  top::encode_attributes(defaults, once);
  typename TestType::attributes back{};
  top::decode_attributes(once, back);
  attr_dict twice;
  top::encode_attributes(back, twice);
  CHECK(once == twice);
}

TEMPLATE_LIST_TEST_CASE("op operand and attribute names are unique and well formed", "[laws]", every_op) {
  std::set<std::string_view> operands;
  for (std::size_t i = 0; i < TestType::operands.size(); ++i) {
    CHECK(operands.insert(TestType::operands[i].name).second);
    if (TestType::operands[i].kind == top::operand_kind::variadic) CHECK(i + 1 == TestType::operands.size());
  }
  std::set<std::string_view> attrs;
  for (auto n : top::attribute_names<typename TestType::attributes>()) CHECK(attrs.insert(n).second);
}

TEST_CASE("the registry has no duplicate mnemonics and finds every op", "[laws]") {
  std::set<std::string_view> seen;
  for (const auto& op : top::ops().ops()) CHECK(seen.insert(op.mnemonic).second);
  CHECK(seen.size() == top::all_ops::size);
  CHECK(top::ops().find("top.NoSuchOp") == nullptr);
  CHECK_THROWS_WITH(top::ops().at("top.NoSuchOp"), Catch::Contains("unknown op 'top.NoSuchOp'"));
}
