// tests/support/uow_model.hpp - entities for unit-of-work tests: cascades, orphans, passive
// deletes and a version column.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/loadstar.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace ls = loadstar;

namespace uow {
struct Line;
struct Order {
    std::int64_t id{};
    std::string code;
    std::int64_t total{};
    std::int64_t version{};
    ls::many<Line> lines;
};
struct Line {
    std::int64_t id{};
    std::int64_t order_id{};
    std::string sku;
    ls::one<Order> order;
};
struct Doc;
struct Folder {
    std::int64_t id{};
    std::string name;
    ls::many<Doc> docs;
};
struct Doc {
    std::int64_t id{};
    std::int64_t folder_id{};
    std::string title;
};
}  // namespace uow

template <>
struct loadstar::mapping<uow::Order> {
    using O = uow::Order;
    static constexpr auto table = ls::table("orders",
        ls::column<&O::id>("id", ls::primary_key),
        ls::column<&O::code>("code", ls::unique),
        ls::column<&O::total>("total"),
        ls::column<&O::version>("version", ls::version),
        ls::has_many<&O::lines>(&uow::Line::order_id, ls::back_populates<&uow::Line::order>, ls::cascade_delete_orphan));
};
template <>
struct loadstar::mapping<uow::Line> {
    using L = uow::Line;
    static constexpr auto table = ls::table("lines",
        ls::column<&L::id>("id", ls::primary_key),
        ls::column<&L::order_id>("order_id", ls::foreign_key<&uow::Order::id>),
        ls::column<&L::sku>("sku"),
        ls::belongs_to<&L::order>(&L::order_id, ls::back_populates<&uow::Order::lines>));
};
template <>
struct loadstar::mapping<uow::Folder> {
    static constexpr auto table = ls::table("folders",
        ls::column<&uow::Folder::id>("id", ls::primary_key),
        ls::column<&uow::Folder::name>("name"),
        ls::has_many<&uow::Folder::docs>(&uow::Doc::folder_id, ls::cascade_delete, ls::passive_deletes));
};
template <>
struct loadstar::mapping<uow::Doc> {
    static constexpr auto table = ls::table("docs",
        ls::column<&uow::Doc::id>("id", ls::primary_key),
        ls::column<&uow::Doc::folder_id>("folder_id", ls::foreign_key<&uow::Folder::id>),
        ls::column<&uow::Doc::title>("title"));
};

namespace uow {
inline void create_schema(ls::engine& e) { ls::create_all<Order, Line, Folder, Doc>(e); }
}  // namespace uow
