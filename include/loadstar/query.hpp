// loadstar/query.hpp - query<T, Plan>: the typed builder, its SQL, and its execution.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/convert.hpp>
#include <loadstar/detail/session_core.hpp>
#include <loadstar/errors.hpp>
#include <loadstar/expr.hpp>
#include <loadstar/loader/loader.hpp>
#include <loadstar/loader/plan.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/options.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace loadstar {

namespace detail {

/// The runtime part of a query: rendered filter text, values, paging, flags.
struct query_state {
    session_core* s = nullptr;
    std::string where;
    std::vector<value> where_params;
    std::string order;
    std::string joins;
    std::string group_by;
    std::string having;
    std::vector<value> having_params;
    std::optional<std::int64_t> limit, offset;
    bool for_update = false;
    bool populate_existing = false;
    bool untracked = false;

    // Out of line: a query's state is made, moved and destroyed in every query function, and
    // its members' code is the same for all of them (compiled once in src.hpp).
    LOADSTAR_DECL query_state() noexcept;
    LOADSTAR_DECL query_state(const query_state&);
    LOADSTAR_DECL query_state(query_state&&) noexcept;
    LOADSTAR_DECL query_state& operator=(const query_state&);
    LOADSTAR_DECL query_state& operator=(query_state&&) noexcept;
    LOADSTAR_DECL ~query_state();

    const dialect& sql_dialect() const { return s->eng->sql_dialect(); }

    /// " LIMIT ? OFFSET ?" as the dialect wants it; appends the values to `params`.
    void render_paging(std::string& sql, std::vector<value>& params) const;
    /// " WHERE ..." with its values.
    void render_where(std::string& sql, std::vector<value>& params) const;
};

/// `clause` AND `text`: "(a) AND b" once there is a condition (WHERE, HAVING).
LOADSTAR_DECL void add_condition(std::string& clause, const std::string& text);
/// `list`, `text`: "a, b" (ORDER BY, GROUP BY, a projection's columns).
LOADSTAR_DECL void add_list_item(std::string& list, const std::string& text);

template <class O>
void render_order_item(std::string& out, const O& o) {
    if constexpr (expression<O>) add_list_item(out, expr_text(o));
    else {
        std::string s;
        o.render(s);
        add_list_item(out, s);
    }
}

/// where / order_by / limit / offset, shared by entity queries and projections.
template <class Derived>
class builder {
public:
    /// Adds a filter (several calls are joined with AND). Values are bound, never spliced.
    template <predicate P>
    Derived& where(const P& p) {
        add_condition(st_.where, expr_text(p));
        p.collect(st_.where_params);
        return self();
    }
    /// ORDER BY: columns (ascending), `col<>.desc()`, `col<>.asc()`, aggregates.
    template <class... O>
    Derived& order_by(const O&... o) {
        (render_order_item(st_.order, o), ...);
        return self();
    }
    Derived& limit(std::int64_t n) {
        st_.limit = n;
        return self();
    }
    Derived& offset(std::int64_t n) {
        st_.offset = n;
        return self();
    }

protected:
    builder() = default;
    explicit builder(query_state st) : st_(std::move(st)) {}
    Derived& self() { return static_cast<Derived&>(*this); }
    query_state st_;
};

/// The entity's table, quoted; its primary key column under it.
template <class E>
inline constinit name_slot table_sql_slot{&quoted_name_of, entity_meta<E>::table_name()};
template <class E>
inline constinit name_slot pk_sql_slot{&qualified_name, entity_meta<E>::table_name(),
                                       entity_meta<E>::template column_name<entity_meta<E>::pk_index>()};
template <class E>
const std::string& table_sql() {
    return slot_name(table_sql_slot<E>);
}
template <class E>
const std::string& pk_sql() {
    return slot_name(pk_sql_slot<E>);
}

/// The parts of an entity query's SELECT that its plan decides (built once per plan); the rest
/// (filters, joins, order, paging, lock) comes from the query's state.
struct select_parts {
    const std::string& columns;      ///< the plan's column list
    const std::string& table;        ///< the entity's table, quoted
    const std::string& eager_joins;  ///< the plan's LEFT OUTER JOINs
    /// Non-null when the parents must be paged in a subquery (a joined to-many under a limit):
    /// the entity's own columns, selected there.
    const std::string* paged_columns = nullptr;
};

LOADSTAR_DECL void append_order(const query_state& st, std::string& sql);

/// The SELECT of an entity query, its values appended to `params` in order. Plain code, shared
/// by every query: a plan contributes only its parts.
LOADSTAR_DECL std::string render_select(const query_state& st, const select_parts& p, std::vector<value>& params);

/// The key source of the subquery loads under a query's root: its FROM, joins, filters and
/// paging (ordered when paged, so the subquery pages the same parents).
LOADSTAR_DECL tail render_tail(const query_state& st, const std::string& table);

/// Runs an entity query's statement into node `n` (query::all): renders it, then hands it to
/// `run` (entity_loader<E>::run_node), which hydrates the rows. Ordinary code, the same for
/// every entity and plan.
LOADSTAR_DECL void select_into(const query_state& st, const plan_desc& p, const std::string& table,
                               const std::string* paged_columns, bool repeats, bool with_tail, load_node& n,
                               void (*run)(load_context&, std::string_view, std::span<const value>, const plan_desc&,
                                           load_node&, const tail*));

/// Every object of an entity query (query::all), each once. Per entity, not per plan: a plan
/// passes its description and what its type decides.
template <class E>
std::vector<ptr<E>> select_all(const query_state& st, const plan_desc& p, const std::string* paged_columns,
                               bool repeats, bool with_tail) {
    load_node n(p);
    n.use_seen = repeats;
    select_into(st, p, table_sql<E>(), paged_columns, repeats, with_tail, n, &entity_loader<E>::run_node);
    return typed_objects<E>(std::move(n.objs));
}

/// SELECT count(*) of the rows a query matches (of its page, when paged or joined).
LOADSTAR_DECL std::string render_count(const query_state& st, const std::string& table, const std::string& pk,
                                       std::vector<value>& params);

/// SELECT EXISTS (...) of a query.
LOADSTAR_DECL std::string render_exists(const query_state& st, const std::string& table, std::vector<value>& params);

template <class T>
T value_as(const value& v) {
    if constexpr (is_optional_v<T>) {
        if (v.is_null()) return T{};
        return T{value_as<typename T::value_type>(v)};
    } else if constexpr (std::is_same_v<T, bool>) return get<std::int64_t>(v) != 0;
    else if constexpr (std::is_integral_v<T>) return static_cast<T>(get<std::int64_t>(v));
    else if constexpr (std::is_floating_point_v<T>) return static_cast<T>(get<double>(v));
    else if constexpr (std::is_same_v<T, std::string>) return get<std::string>(v);
    else if constexpr (std::is_same_v<T, blob>) return get<blob>(v);
    else {
        time_point tp{};
        parse_time(get<std::string>(v), tp);
        return tp;
    }
}

template <class E>
void evict(session_core& s, const typename entity_meta<E>::pk_type& pk) {
    auto& m = s.map<E>();
    auto it = m.objects.find(pk);
    if (it == m.objects.end()) return;
    detach_holders(m.object(it->second));
    s.forget_changes_of(it->second.obj.get());
    m.objects.erase(it);
}

}  // namespace detail

template <class Row>
class projection;
template <class E, class Plan>
class stream;
template <class E, class Plan, class Args>
class typed_query;

/// A query for entity E, loading relationships as `Plan` says (built from `options(...)`).
///
/// ```cpp
/// auto authors = s.query<Author>()
///     .where(ls::col<&Author::name>.like("J%"))
///     .order_by(ls::col<&Author::id>)
///     .options(ls::selectinload<&Author::books>)
///     .all();
/// ```
template <class E, class Plan = detail::plan<E, detail::type_list<>, false, detail::type_list<>>>
class query : public detail::builder<query<E, Plan>> {
    using base = detail::builder<query<E, Plan>>;
    using meta = entity_meta<E>;
    template <class, class>
    friend class query;
    template <class, class>
    friend class stream;

public:
    explicit query(detail::session_core& s) { this->st_.s = &s; }
    explicit query(detail::query_state st) : base(std::move(st)) {}

    /// Loader options; returns a query of a new type whose plan includes them.
    template <class... Opts>
    auto options(Opts...) const {
        static_assert((std::is_base_of_v<detail::option_tag, Opts> && ...),
                      "loadstar: options() takes loader options (selectinload<&E::m>, ...)");
        using P = detail::plan<E, typename detail::type_list_cat<typename Plan::options, detail::type_list<Opts...>>::type,
                               Plan::raise_all || (std::is_same_v<Opts, raiseload_all_t> || ...), detail::type_list<>>;
        // Check the options here, where they are written, not at all() / one(): the whole tree.
        static_assert(detail::check_option_tree<E, typename P::options>::ok);
        static_assert(detail::plan_width<P>() > 0);
        return query<E, P>(this->st_);
    }

    /// The same query, returning typed views whose type carries the plan (loadstar/typed.hpp):
    /// reading a relationship or deferred column the plan does not load does not compile.
    /// Takes ls::allow_lazy<&T::member...> (loads the program accepts) and ls::allow_cartesian
    /// (two joined collections at one level, which is refused otherwise).
    template <class... Args>
    auto typed(Args...) const {
        return typed_query<E, Plan, detail::type_list<Args...>>(*this);
    }

    /// Inner-joins the target of relationship `Member` (of E), so that where / order_by may
    /// name its columns; pair with `contains_eager<Member>` to fill the relationship from it.
    template <auto Member>
    query& join() {
        constexpr std::size_t i = meta::template relationship_of<Member>();
        static_assert(i != detail::npos, "loadstar: join<> needs a relationship of the queried entity");
        using K = detail::rel_keys<E, i>;
        const std::string t = detail::quote_ident(K::tmeta::table_name());
        const std::string s = K::secondary_name();
        this->st_.joins += K::join_sql("JOIN", t, s, K::parent_key_sql(detail::quote_ident(meta::table_name())));
        return *this;
    }

    /// SELECT ... FOR UPDATE (PostgreSQL). A transaction not begun yet begins as a write
    /// transaction: on SQLite, which has no row locks, that takes the database's write lock
    /// (BEGIN IMMEDIATE) and the clause itself is left out.
    query& for_update() {
        this->st_.for_update = true;
        return *this;
    }
    /// Re-read objects already in the identity map (unflushed changes to them are overwritten).
    query& populate_existing() {
        this->st_.populate_existing = true;
        return *this;
    }
    /// No identity map, no session binding: the fastest read path. Unloaded relationships of
    /// the objects it returns throw detached_error when touched.
    query& untracked() {
        this->st_.untracked = true;
        return *this;
    }

    /// The SELECT statement this query runs (with `?` placeholders).
    std::string sql() const {
        std::vector<value> params;
        return build(params);
    }

    /// Every matching object, in order, each once. Throws loadstar::error on driver failure.
    std::vector<ptr<E>> all() const {
        // An explicit join can repeat a row (Author joined to its books): each object is
        // still returned once, as SQLAlchemy's Query uniques single-entity results.
        const bool repeats = detail::has_joined_many<Plan>() || !this->st_.joins.empty();
        return detail::select_all<E>(this->st_, detail::desc(detail::desc_slot_of<Plan>), paged_columns(), repeats,
                                     detail::needs_tail<Plan>());
    }

    /// The first object (LIMIT 1), or nullptr.
    ptr<E> first() const {
        query q = *this;
        q.st_.limit = 1;
        auto v = q.all();
        return v.empty() ? nullptr : v.front();
    }

    /// Exactly one object; throws no_result_error or multiple_results_error otherwise.
    ptr<E> one() const {
        auto v = all();
        if (v.empty()) throw no_result_error("loadstar: one() found no " + detail::type_name<E>());
        if (v.size() > 1)
            throw multiple_results_error("loadstar: one() found " + std::to_string(v.size()) + " " +
                                         detail::type_name<E>() + " rows");
        return v.front();
    }

    /// SELECT count(*) of the matching rows, computed by the database.
    std::int64_t count() const {
        std::vector<value> params;
        const std::string sql = detail::render_count(this->st_, table(), pk_sql(), params);
        return scalar(sql, params);
    }

    /// SELECT EXISTS (...): true if any row matches, without loading it.
    bool exists() const {
        std::vector<value> params;
        const std::string sql = detail::render_exists(this->st_, table(), params);
        return scalar(sql, params) != 0;
    }

    /// Projection to tuples of columns, without hydrating objects:
    /// `s.query<Author>().columns<&Author::id, &Author::name>().all()`.
    template <auto... Members>
    auto columns() const {
        if constexpr ((detail::is_mapped_column<Members>() && ...)) {
            return columns(col<Members>...);
        } else {  // column_member_check's one message, then nothing more
            static_assert((detail::column_member_check<Members>::ok && ...));
            return detail::unmapped_query{};
        }
    }
    /// Projection to tuples of expressions (columns, aggregates).
    template <class... X>
    auto columns(const X&... xs) const {
        static_assert(sizeof...(X) > 0, "loadstar: columns() needs at least one column");
        static_assert((detail::expression<X> && ...), "loadstar: columns() takes columns or aggregates");
        using row = std::tuple<typename X::value_type...>;
        std::string list;
        (detail::add_list_item(list, detail::expr_text(xs)), ...);
        return projection<row>(this->st_, list, table());
    }

    /// Streams the results in batches of `n` rows; selectin and subquery loads run per batch.
    stream<E, Plan> yield_per(std::size_t n) const {
        static_assert(!detail::has_joined_many<Plan>(),
                      "loadstar: yield_per cannot be combined with a joined load of a to-many "
                      "relationship (the rows of one parent would straddle batches); use "
                      "selectinload for it");
        return stream<E, Plan>(*this, n);
    }

    /// UPDATE ... SET ... WHERE <this query's filter>, one statement; returns the rows changed.
    /// Objects of the identity map that matched get the new values (via RETURNING).
    template <auto... Members>
    std::int64_t update(const assignment<Members>&... sets) {
        static_assert(sizeof...(Members) > 0, "loadstar: update() needs at least one ls::set<>");
        static_assert((std::is_same_v<detail::member_class_t<Members>, E> && ...),
                      "loadstar: update() sets columns of the queried entity only");
        // A set<> of a member that is not a column was reported where it was written.
        if constexpr (!(detail::is_mapped_column<Members>() && ...)) return 0;
        else return update_columns(sets...);
    }

private:
    template <auto... Members>
    std::int64_t update_columns(const assignment<Members>&... sets) {
        std::vector<value> params;
        std::string sql = "UPDATE " + table() + " SET ";
        bool first = true;
        auto add = [&]<auto M>(const assignment<M>& a) {
            constexpr std::size_t i = meta::template column_of<M>();
            sql += (first ? "" : ", ") + detail::quote_ident(meta::template column_name<i>()) + " = ?";
            first = false;
            params.push_back(a.v);
        };
        (add(sets), ...);
        this->st_.render_where(sql, params);
        const bool returning = this->st_.sql_dialect().supports_returning;
        if (returning) sql += " RETURNING " + pk_sql();
        auto& pc = this->st_.s->connection(/*write=*/true);
        detail::cursor c(*this->st_.s->eng, pc, sql, params);
        std::int64_t n = 0;
        if (returning) {
            auto& m = this->st_.s->template map<E>();
            while (c.next()) {
                ++n;
                typename meta::pk_type pk{};
                detail::read_column(c.row(), 0, pk, "primary key");
                if (auto* e = m.find_entry(pk)) {
                    // The new values, in the object and in its snapshot (other unflushed
                    // changes of the object stay unflushed changes).
                    E& o = m.object(*e);
                    auto apply = [&]<auto M>(const assignment<M>& a) {
                        constexpr std::size_t i = meta::template column_of<M>();
                        using T = typename meta::template column_t<i>::stored_type;
                        T v = detail::value_as<T>(a.v);
                        m.template set_snapshot_column<i>(*e, v);
                        o.*M = std::move(v);
                    };
                    (apply(sets), ...);
                }
            }
        } else {
            n = c.run();
        }
        this->st_.s->tx_wrote = true;  // a lost connection now loses written work
        return n;
    }

public:
    /// DELETE ... WHERE <this query's filter>, one statement; returns the rows deleted. Deleted
    /// objects leave the identity map (and are detached).
    std::int64_t remove() {
        std::vector<value> params;
        std::string sql = "DELETE FROM " + table();
        this->st_.render_where(sql, params);
        const bool returning = this->st_.sql_dialect().supports_returning;
        if (returning) sql += " RETURNING " + pk_sql();
        auto& pc = this->st_.s->connection(/*write=*/true);
        detail::cursor c(*this->st_.s->eng, pc, sql, params);
        std::int64_t n = 0;
        if (!returning) {
            n = c.run();
        } else {
            while (c.next()) {
                ++n;
                typename meta::pk_type pk{};
                detail::read_column(c.row(), 0, pk, "primary key");
                detail::evict<E>(*this->st_.s, pk);
            }
        }
        this->st_.s->tx_wrote = true;  // a lost connection now loses written work
        return n;
    }

private:
    static const std::string& table() { return detail::table_sql<E>(); }
    static const std::string& pk_sql() { return detail::pk_sql<E>(); }

    /// Where the parents must be paged in a subquery (a joined to-many under a limit): the
    /// entity's own columns, selected there.
    const std::string* paged_columns() const {
        if constexpr (detail::has_joined_many<Plan>())
            if (this->st_.limit || this->st_.offset) return &detail::desc(detail::desc_slot_of<Plan>).root_cols;
        return nullptr;
    }
    std::string build(std::vector<value>& params) const {
        const detail::plan_desc& p = detail::desc(detail::desc_slot_of<Plan>);
        return detail::render_select(this->st_, {p.cols, table(), p.joins, paged_columns()}, params);
    }

    std::int64_t scalar(const std::string& sql, const std::vector<value>& params) const {
        auto& pc = this->st_.s->connection();
        detail::cursor c(*this->st_.s->eng, pc, sql, params);
        std::int64_t v = 0;
        if (c.next()) detail::read_column(c.row(), 0, v, "count");
        return v;
    }
};

/// A projection: rows of plain values (`std::tuple`), no objects, no identity map.
template <class Row>
class projection : public detail::builder<projection<Row>> {
    using base = detail::builder<projection<Row>>;

public:
    projection(detail::query_state st, std::string list, std::string table)
        : base(std::move(st)), list_(std::move(list)), table_(std::move(table)) {}

    /// GROUP BY the given columns.
    template <class... C>
    projection& group_by(const C&... cols) {
        (detail::add_list_item(this->st_.group_by, detail::expr_text(cols)), ...);
        return *this;
    }
    /// HAVING, e.g. `having(ls::count() > 2)`.
    template <detail::predicate P>
    projection& having(const P& p) {
        detail::add_condition(this->st_.having, detail::expr_text(p));
        p.collect(this->st_.having_params);
        return *this;
    }

    std::string sql() const {
        std::vector<value> p;
        return build(p);
    }

    std::vector<Row> all() const {
        std::vector<value> params;
        const std::string sql = build(params);
        auto& pc = this->st_.s->connection();
        detail::cursor c(*this->st_.s->eng, pc, sql, params);
        std::vector<Row> out;
        while (c.next()) {
            Row r;
            detail::for_each_index<std::tuple_size_v<Row>>([&](auto i) {
                detail::read_column(c.row(), static_cast<int>(i), std::get<i>(r), "projection column");
            });
            out.push_back(std::move(r));
        }
        return out;
    }
    /// The first row, if any.
    std::optional<Row> first() const {
        projection q = *this;
        q.st_.limit = 1;
        auto v = q.all();
        if (v.empty()) return std::nullopt;
        return std::move(v.front());
    }

private:
    std::string build(std::vector<value>& params) const {
        const auto& st = this->st_;
        std::string sql = "SELECT " + list_ + " FROM " + table_ + st.joins;
        st.render_where(sql, params);
        if (!st.group_by.empty()) sql += " GROUP BY " + st.group_by;
        if (!st.having.empty()) {
            sql += " HAVING " + st.having;
            params.insert(params.end(), st.having_params.begin(), st.having_params.end());
        }
        if (!st.order.empty()) sql += " ORDER BY " + st.order;
        st.render_paging(sql, params);
        return sql;
    }
    std::string list_;
    std::string table_;
};

/// The range `yield_per(n)` returns: rows are read and hydrated batch by batch; the
/// follow-up loads of each batch run before the batch is handed out.
template <class E, class Plan>
class stream {
    using L = detail::entity_loader<E>;
    using meta = entity_meta<E>;

public:
    stream(const query<E, Plan>& q, std::size_t batch) : q_(q), batch_(batch ? batch : 1) {}

    class iterator {
    public:
        using value_type = ptr<E>;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(stream* s) : s_(s) { advance(); }
        const ptr<E>& operator*() const { return s_->buffer_[i_]; }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        bool operator==(std::default_sentinel_t) const { return s_ == nullptr; }

    private:
        void advance() {
            if (s_ && ++i_ < s_->buffer_.size()) return;
            i_ = 0;
            if (!s_ || !s_->fill()) s_ = nullptr;
        }
        stream* s_ = nullptr;
        std::size_t i_ = static_cast<std::size_t>(-1);
    };

    iterator begin() {
        start();
        return iterator(this);
    }
    std::default_sentinel_t end() { return {}; }

private:
    void start() {
        buffer_.clear();
        params_.clear();
        sql_ = q_.build(params_);
        ctx_.emplace(detail::load_context{*q_.st_.s});
        ctx_->tracked = !q_.st_.untracked;
        ctx_->dedupe = ctx_->tracked || detail::has_eager<Plan>();
        ctx_->populate_existing = q_.st_.populate_existing;
        auto& pc = q_.st_.s->connection(q_.st_.for_update);
        cursor_.emplace(*q_.st_.s->eng, pc, sql_, params_);
        done_ = false;
    }
    /// Reads the next batch; false when the rows are exhausted.
    bool fill() {
        buffer_.clear();
        if (done_) return false;
        const detail::plan_desc& p = detail::desc(detail::desc_slot_of<Plan>);
        detail::load_node n(p);
        n.use_seen = false;
        while (n.objs.size() < batch_) {
            if (!cursor_->next()) {
                done_ = true;
                cursor_.reset();
                break;
            }
            int col = 0;
            L::hydrate(*ctx_, cursor_->row(), col, p, n);
        }
        ctx_->finish_joined();
        if (n.objs.empty()) return false;
        detail::tail t;
        if constexpr (detail::needs_tail<Plan>()) {
            // Each batch's subquery loads are restricted to the batch's keys.
            // Written with in_list_length() placeholders (the last key repeated), so the last,
            // shorter batch does not add a statement text of its own for each length.
            t.sql = "FROM " + query<E, Plan>::table() + " WHERE " + query<E, Plan>::pk_sql() + " IN (";
            const std::size_t len = detail::in_list_length(n.objs.size(), std::max(batch_, n.objs.size()));
            for (std::size_t i = 0; i < len; ++i) {
                t.sql += i ? ", ?" : "?";
                t.params.push_back(
                    detail::to_value(static_cast<const E*>(n.objs[std::min(i, n.objs.size() - 1)].get())->*(meta::pk_member)));
            }
            t.sql += ')';
            t.may_repeat = false;  // distinct primary keys
        }
        detail::post_load(*ctx_, p, n, &t);
        buffer_ = detail::typed_objects<E>(std::move(n.objs));
        return true;
    }

    query<E, Plan> q_;
    std::size_t batch_;
    std::string sql_;
    std::vector<value> params_;
    std::optional<detail::load_context> ctx_;
    std::optional<detail::cursor> cursor_;
    std::vector<ptr<E>> buffer_;
    bool done_ = false;
};

}  // namespace loadstar

#include <loadstar/typed.hpp>  // typed(): the views (it includes this header first)

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/query.ipp>
#endif
