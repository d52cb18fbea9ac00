// loadstar/loader/keys.hpp - what every loader strategy shares: the names and keys of one
// relationship (the SQL pieces that reach a child table from its parents), the per-load
// context, the key source of a subquery load ("tail"), claiming holders and attaching children.
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/config.hpp>
#include <loadstar/detail/convert.hpp>
#include <loadstar/detail/names.hpp>
#include <loadstar/detail/session_core.hpp>
#include <loadstar/loader/plan.hpp>
#include <loadstar/mapping.hpp>
#include <loadstar/relationship.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace loadstar::detail {

/// A load node's objects (load_node below), each an object of the node's entity.
using object_list = std::vector<std::shared_ptr<void>>;

// ---- names and keys of one relationship -------------------------------------------------------

template <class E, class Key, bool BelongsTo>
struct key_type_sel {
    using type = typename entity_meta<E>::pk_type;
};
template <class E, class Key>
struct key_type_sel<E, Key, true> {
    using type = unwrap_optional_t<typename member_traits<Key>::member_type>;
};

/// A relationship's tables and key columns as its statements name them (unquoted; from the
/// mapping at compile time): the statement texts below are ordinary code over them, compiled
/// once, not once per relationship.
struct rel_names {
    relation kind = relation::has_many;
    std::string_view table, pk;          // the parent's table and primary key
    std::string_view fk;                 // the foreign key: the child's (to-many, one-to-one) or the parent's (to-one)
    std::string_view target, target_pk;  // the target's table and primary key
    std::string_view secondary, local, remote;  // many-to-many: the association table and its columns
};

/// The association table's name (quoted), or empty if not many-to-many.
LOADSTAR_DECL std::string secondary_name(const rel_names& r);
/// The parent-side key expression under alias `p` (what a subquery selects from the parent's
/// rows).
LOADSTAR_DECL std::string parent_key_sql(const rel_names& r, const std::string& p);
/// The child-side key expression (what a selectin IN list and a subquery join compare): `c`
/// aliases the child table, `s` the association table.
LOADSTAR_DECL std::string child_key_sql(const rel_names& r, const std::string& c, const std::string& s);
/// FROM-clause text that reaches the child table (aliased `c`) from the parent's key source.
/// `join` is "LEFT OUTER JOIN" or "JOIN"; `pkey` the parent key expression.
LOADSTAR_DECL std::string join_sql(const rel_names& r, std::string_view join, const std::string& c, const std::string& s,
                                   const std::string& pkey);
/// "FROM child [JOIN secondary]" for statements keyed on the child side (selectin, lazy).
LOADSTAR_DECL std::string from_child(const rel_names& r, const std::string& c, const std::string& s);

template <class E, std::size_t I>
struct rel_keys {
    using meta = entity_meta<E>;
    using R = typename meta::template relationship_t<I>;
    using T = typename R::target;
    using tmeta = entity_meta<T>;
    static constexpr relation kind = R::kind;
    static constexpr auto key = meta::template relationship<I>().key;

    static constexpr std::size_t fk_col = [] {
        if constexpr (kind == relation::has_many || kind == relation::has_one) return tmeta::template column_of<key>();
        else if constexpr (kind == relation::belongs_to) return meta::template column_of<key>();
        else return std::size_t{0};
    }();
    static_assert(fk_col != npos,
                  "loadstar: a relationship's foreign key member is not a mapped column "
                  "(see rel_keys<Entity, index> below)");

    /// The type of the value that links parent and child (parent pk, or the parent's fk).
    using key_type = typename key_type_sel<E, std::remove_cv_t<decltype(key)>, kind == relation::belongs_to>::type;

    /// The relationship's names, for the statement texts built from them (rel_names).
    static constexpr rel_names names = [] {
        rel_names n;
        n.kind = kind;
        n.table = meta::table_name();
        n.pk = meta::template column_name<meta::pk_index>();
        n.target = tmeta::table_name();
        n.target_pk = tmeta::template column_name<tmeta::pk_index>();
        if constexpr (kind == relation::has_many || kind == relation::has_one) {
            n.fk = tmeta::template column_name<fk_col>();
        } else if constexpr (kind == relation::belongs_to) {
            n.fk = meta::template column_name<fk_col>();
        } else {
            n.secondary = key.table;
            n.local = key.local;
            n.remote = key.remote;
        }
        return n;
    }();

    static std::string secondary_name() { return detail::secondary_name(names); }

    static bool parent_key(const E& e, key_type& out) {
        if constexpr (kind == relation::belongs_to) {
            const auto& v = e.*key;
            if constexpr (is_optional_v<std::remove_cvref_t<decltype(v)>>) {
                if (!v) return false;
                out = *v;
            } else {
                out = v;
            }
        } else {
            out = e.*(meta::pk_member);
        }
        return true;
    }

    static std::string parent_key_sql(const std::string& p) { return detail::parent_key_sql(names, p); }
    static std::string child_key_sql(const std::string& c, const std::string& s) {
        return detail::child_key_sql(names, c, s);
    }
    static std::string join_sql(std::string_view join, const std::string& c, const std::string& s,
                                const std::string& pkey) {
        return detail::join_sql(names, join, c, s, pkey);
    }
    static std::string from_child(const std::string& c, const std::string& s) { return detail::from_child(names, c, s); }
};

template <class E, std::size_t I>
inline constinit name_slot column_label_slot{&dotted_name, entity_meta<E>::table_name(),
                                             entity_meta<E>::template column_name<I>()};
/// "authors.name": names a column in conversion errors.
template <class E, std::size_t I>
const std::string& column_label() {
    return slot_name(column_label_slot<E, I>);
}

/// The identity maps of an untracked load. When the load ends, each object's weak holders
/// are settled (settle_untracked): no session will own their targets. The sweep graph (one
/// dense_map insert per object) is built only when some weak holder has a target: without
/// one, settling makes every weak holder strong whatever the graph says.
struct untracked_maps : std::vector<std::unique_ptr<identity_map_base>> {
    untracked_maps() = default;
    untracked_maps(untracked_maps&&) noexcept = default;
    untracked_maps& operator=(untracked_maps&&) noexcept = default;
    ~untracked_maps();
};

/// Per-load state: the session, and what the statements of this load are filling.
struct load_context {
    session_core& s;
    bool tracked = true;
    bool dedupe = true;
    bool populate_existing = false;
    std::vector<holder_link*> joined_loading{};
    untracked_maps local_maps{};

    template <class E>
    identity_map<E>& map() {
        if (tracked) return s.map<E>();
        return static_cast<identity_map<E>&>(local_map(entity_index<E>, &new_map<E>));
    }
    /// The untracked load's map at index i, made by `make` if there is none yet.
    LOADSTAR_DECL identity_map_base& local_map(std::size_t i, identity_map_base* (*make)());
    void finish_joined() {
        for (auto* l : joined_loading)
            if (l->state == holder_state::loading) l->state = holder_state::loaded;
        joined_loading.clear();
    }
};

/// The text a subquery load builds on: "FROM ... WHERE ..." selecting a node's rows, with the
/// node's table reachable under its own name, and the values it binds.
struct tail {
    std::string sql;
    std::vector<value> params;
    int depth = 0;
    /// Whether these FROM/WHERE can yield one row more than once (a join to a to-many, a
    /// many-to-one's shared targets). If not, a subquery load built on it cannot deliver a
    /// (parent, child) pair twice and skips the duplicate check per child. True unless known.
    bool may_repeat = true;
};

// ---- one relationship's holders and keys, erased ---------------------------------------------
//
// The follow-up and lazy strategies are ordinary code (compiled once, not once per
// relationship) over two small tables of function pointers: one per entity (entity_ops: its
// identity map, its key, running a statement of its plan) and one per relationship (rel_ops:
// the owner's key, its holder). Keys travel as 64-bit integers where the relationship's key
// type is integral, else as values; the strategies' code exists once per key representation.

struct plan_desc;
struct rel_desc;
struct load_node;

/// What a statement run through entity_ops does with each row's object: `obj` is the row's
/// `const ptr<T>*` (null where the row has none, an outer join that matched nothing).
class child_sink {
public:
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, child_sink>)
    child_sink(F& f) noexcept  // implicit: callers pass their lambda (an lvalue that outlives the call)
        : self_(std::addressof(f)), fn_([](void* s, statement& st, const void* obj) { (*static_cast<F*>(s))(st, obj); }) {}
    void operator()(statement& st, const void* obj) const { fn_(self_, st, obj); }

private:
    void* self_;
    void (*fn_)(void*, statement&, const void*);
};

/// A relationship's holder, erased: its place in the owner and its holder type's table
/// (holder_walk in detail/holder_walk.hpp, per relationship holder_hooks_of<E>::walks[I]).
using holder_ops = holder_walk;

class table_info;
struct rel_ops;
struct link_statements;  // unit/rows.hpp

/// Per many-to-many relationship (rel_ops::links): its link statements, built at first use
/// under the once_flag and kept for the program's life (as lazy_slot's: reachable, no leak).
/// Constant-initialised: data, no code of its own.
struct link_slot {
    std::once_flag once{};
    const link_statements* sql = nullptr;
};
template <class E, std::size_t I>
inline constinit link_slot link_slot_of{};

/// An entity's part in the strategies and in the flush, erased (entity_ops_for<E> in
/// loader.hpp): the flush's walks (impl/insert.ipp) are ordinary code over these tables, so a
/// program that only reads compiles no write code of its own, and one that writes compiles
/// the same tables (issue 10).
struct entity_ops {
    /// The identity map a load fills (ctx.map<E>()) and the session's (s.map<E>()).
    identity_map_base& (*ctx_map)(load_context&) = nullptr;
    identity_map_base& (*session_map)(session_core&) = nullptr;
    /// The entry the map holds under key k (converted to the entity's key type), or null.
    /// find_int only where the entity's key is integral.
    map_entry* (*find_int)(identity_map_base&, std::int64_t k) = nullptr;
    map_entry* (*find_value)(identity_map_base&, const value& k) = nullptr;
    /// An object's primary key (key_int only where it is integral).
    std::int64_t (*key_int)(const void* obj) = nullptr;
    value (*key_value)(const void* obj) = nullptr;
    /// A row's object (`const ptr<T>*`) as a shared pointer, and as the object's address.
    std::shared_ptr<void> (*share)(const void* obj) = nullptr;
    const void* (*address)(const void* obj) noexcept = nullptr;
    /// Runs a statement of plan `p` (entity_loader<E>::run into a node of its own), handing
    /// each row's object to `sink` after `key_columns` leading key columns.
    void (*run)(load_context&, std::string_view sql, std::span<const value> params, int key_columns,
                const plan_desc& p, const tail* t, child_sink sink) = nullptr;
    /// Hydrates a joined child from the current row into node `n` and attaches it to the holder
    /// `w` of `owner` while that holder loads (entity_loader<E>::hydrate_joined).
    void (*hydrate_joined)(load_context&, statement&, int& col, const plan_desc& p, load_node& n, const holder_walk& w,
                           void* owner) = nullptr;
    // ---- the flush's part ----
    const std::string& (*type_name)() = nullptr;
    /// The table and its columns' getters and setters (table_of<E>).
    const table_info& (*table)() = nullptr;
    /// The session's maps hold this entity's at this index (entity_index<E>).
    const std::size_t* map_index = nullptr;
    /// The database generates the key: an object whose key is 0 has none yet.
    bool generated_key = false;
    /// Binds a persistent object's holders to the session (bind_holders).
    void (*bind)(session_core& s, void* obj) = nullptr;
    /// session::add's entry (object_ref::run): save_erased<E>.
    void (*save)(session_core& s, const std::shared_ptr<void>& obj) = nullptr;
    /// The relationships, in mapping order (a function: the tables refer to each other).
    std::span<const rel_ops* const> (*rels)() = nullptr;
};

/// A relationship's part in the strategies, erased (rel_ops_for<E, I> in loader.hpp). `owner`
/// is an E*.
struct rel_ops {
    const rel_names* names = nullptr;
    const entity_ops* target = nullptr;
    /// Whether keys travel as 64-bit integers (key_int, find_int, a statement's integer key
    /// column) or as values.
    bool int_keys = false;
    bool to_many = false;                    // the holder is a collection
    const std::string& (*name)() = nullptr;  // "Author.books"
    /// The key that links owner and children (rel_keys::parent_key): false where the owner's
    /// foreign key is NULL. key_int only where int_keys.
    bool (*key_int)(const void* owner, std::int64_t& out) = nullptr;
    bool (*key_value)(const void* owner, value& out) = nullptr;
    /// Reads column c of a follow-up row, the relationship key, as a value (not int_keys).
    void (*read_key)(statement& st, int c, value& out) = nullptr;
    /// The owner's holder: its link and clearing (the table arm_holders uses too).
    const holder_ops* holder = nullptr;
    /// Adds a row's object (`const ptr<T>*`) to the owner's holder (attach).
    void attach(void* owner, const void* child, bool may_repeat) const {
        holder->kind->attach(holder->at(owner), child, may_repeat);
    }
    /// Sets the owner's to-one holder.
    void set(void* owner, const std::shared_ptr<void>& child) const { holder->kind->set(holder->at(owner), child); }
    /// Claims the holders of this relationship among a node's objects that the current load
    /// fills (those still "loading"); returns their owners.
    LOADSTAR_DECL std::vector<void*> claim(const object_list& objs) const;
    // ---- the flush's part (impl/insert.ipp), constant data ----
    const entity_ops* owner = nullptr;
    /// back_populates: the inverse relationship (null if none is named; a function: the two
    /// tables refer to each other).
    const rel_ops& (*back)() = nullptr;
    bool delete_orphan = false;
    bool cascade_delete = false;
    bool passive_deletes = false;
    /// A many-to-one held weakly (weak_target in detail/holder_walk.hpp): a new target
    /// assigned to it is made pending at once, since nothing else owns it until the flush.
    bool weak = false;
    /// The foreign key column: the target's (one-to-many, one-to-one) or the owner's
    /// (many-to-one), and whether it can hold NULL (a std::optional member).
    std::size_t fk_col = 0;
    bool fk_nullable = false;
    /// Many-to-many: its link statements, built once (link_sql).
    link_slot* links = nullptr;
};

/// Marks the claimed holders of `owners` loaded.
inline void mark_loaded(const rel_ops& r, const std::vector<void*>& owners) noexcept {
    for (void* o : owners) {
        holder_link& link = r.holder->link(o);
        if (link.state == holder_state::claimed) link.state = holder_state::loaded;
    }
}

// ---- the runtime plan: what the loader walks ----------------------------------------------------
//
// A plan type (plan.hpp) is described once, at its first use, by a plan_desc: which columns its
// statement reads, and for each relationship the strategy, the child plan and the entry points
// of that strategy. The loader's code is then per entity (entity_loader<E>), per relationship
// only a table (rel_ops), and the strategies themselves are ordinary code: a program with forty
// query shapes over five entities compiles five hydrations, not forty, and one selectin load,
// not one per relationship (issue 10).

/// The objects one statement hydrated at one place in a plan.
struct load_node {
    /// The objects, in the order first hydrated (each an object of the node's entity).
    object_list objs;
    /// Per relationship: the node of a joined child, else null (empty when nothing is joined).
    std::vector<std::unique_ptr<load_node>> children;
    // Dense (no allocation per object: the node-based set was 5.5% of a 10,000 x 10 joined
    // load); a joined parent's repeated rows mostly come one after another, which hydrate
    // checks against objs.back() before probing.
    dense_map<const void*, char> seen;
    // Only a node whose objects feed further eager loads needs each object once (the root
    // decides for itself); de-duplicating the rest is pure cost.
    bool use_seen;
    // Whether hydrate collects objs (a lazy load without follow-ups needs none); when false,
    // use_seen is false too (the seen check reads objs.back()).
    bool keep_objs;

    /// A node for plan `p` (and the nodes of its joined children); `keep`: collect the objects
    /// (a joined child's, a follow-up's and a lazy load's list feeds only their own follow-up
    /// loads: kept only where there are some). One type for every entity: the objects are
    /// held as shared_ptr<void>, and select_all<E> hands them out as ptr<E>.
    LOADSTAR_DECL explicit load_node(const plan_desc& p, bool keep = true);
    load_node(const load_node&) = delete;
    load_node& operator=(const load_node&) = delete;
    LOADSTAR_DECL ~load_node();
    bool empty() const noexcept { return objs.empty(); }
    /// The node's objects (rel_ops::claim).
    const object_list& objects() const noexcept { return objs; }
};

/// One follow-up load (selectin, subquery) of a node's objects, between claiming its holders
/// and running its statements.
struct followup_job {
    followup_job() = default;
    followup_job(const followup_job&) = delete;
    followup_job& operator=(const followup_job&) = delete;
    virtual ~followup_job() = default;
    /// The statements it will run, for a pipelined round trip.
    virtual void requests(std::vector<prefetch_request>& out) const = 0;
    virtual void end(load_context& ctx) = 0;
};

/// How one relationship of a plan loads.
struct rel_desc {
    load_kind kind = load_kind::lazy;
    std::size_t batch = default_batch_size;
    /// Eager kinds: whether one parent's statement can deliver the same child twice.
    bool may_repeat = true;
    /// Eager kinds: the target's plan within this load.
    const plan_desc* child = nullptr;
    /// What a holder armed by this plan calls when touched (lazy / raise / a later reload).
    const rel_vtable* vt = nullptr;
    /// The holder, for arming it (arm_holders).
    const holder_ops* hold = nullptr;
    /// selectin: the statement up to its key condition.
    std::string sql;
    /// Eager kinds: the relationship's tables and keys (joined.hpp, selectin.hpp).
    const rel_names* names = nullptr;
    /// Eager kinds: the relationship's holders and keys, erased (selectin, subquery).
    const rel_ops* ops = nullptr;
    /// joined and contains_eager: the children's rows come in the parents' statement (a node
    /// of their own beside the parents').
    bool joined = false;
    // selectin and subquery: claims the holders among `objs` (a node's objects)
    std::unique_ptr<followup_job> (*begin)(load_context&, const rel_desc&, const object_list& objs, const tail*) = nullptr;
    // subquery: its key source and statement from the parents' tail (sent with the parents' own
    // statement where the driver pipelines)
    void (*prefetch)(const rel_desc&, const tail& parents, tail& ct, std::string& sql) = nullptr;
};

/// A plan, described at run time.
struct plan_desc {
    /// Per column: its place among the selected columns, or -1 where load_only / defer leave it
    /// out (only when any_deferred).
    std::vector<int> sel;
    bool any_deferred = false;
    int selected = 0;  // columns read
    int width = 0;     // columns of this node and its joined children
    bool joined_many = false;
    bool uses_tail = false;  // a subquery load below needs the key source of its rows
    bool eager = false;
    bool any_joined = false;
    std::size_t subqueries = 0;  // subquery loads
    std::vector<rel_desc> rels;  // one per relationship, in mapping order
    /// The entity's column names, in mapping order (unquoted).
    std::span<const std::string_view> columns;
    /// Columns and eager joins of a statement rooted at the entity's table.
    std::string cols, joins;
    /// joined_many only: every column of the entity, qualified by its table (the parents'
    /// subquery when the statement is paged).
    std::string root_cols;
    // Taken only by plans that need them, so that a program without follow-up loads compiles
    // none of their machinery (pipelined round trips included):
    /// The follow-up loads of a node's objects (null: the plan has none, nor joined children).
    void (*followups_fn)(load_context&, const plan_desc&, load_node&, const tail*) = nullptr;
    /// Sends the subquery loads with the statement itself where the driver pipelines; the
    /// returned scope lives while the statement's rows are read.
    std::unique_ptr<prefetch_scope, void (*)(prefetch_scope*)> (*prefetch_fn)(
        load_context&, std::string_view sql, std::span<const value> params, const plan_desc&, const tail&) = nullptr;

    // Out of line (src.hpp): the same code for every plan.
    LOADSTAR_DECL plan_desc();
    LOADSTAR_DECL plan_desc(plan_desc&&) noexcept;
    LOADSTAR_DECL ~plan_desc();
};

struct plan_spec;  // loader.hpp
/// Where plan P's description lives (desc_slot_of<P>): constant data per plan, no code of its
/// own. The description is built from the plan's constant data (plan_spec) at its first use,
/// by ordinary code, and kept for the program's life (reachable from the slot: no leak).
struct desc_slot {
    const plan_spec& (*spec)() noexcept = nullptr;
    /// build_slot_desc (loader.hpp), through the slot: this header does not define it.
    const plan_desc& (*build)(desc_slot&) = nullptr;
    std::atomic<const plan_desc*> desc{nullptr};
};
/// The description of slot's plan.
inline const plan_desc& desc(desc_slot& slot) {
    if (const plan_desc* d = slot.desc.load(std::memory_order_acquire)) return *d;
    return slot.build(slot);
}
/// Builds slot's description (children first); thread-safe: a racing build is discarded.
LOADSTAR_DECL const plan_desc& build_slot_desc(desc_slot& slot);
/// Plan P's constant data (loader.hpp) and its slot.
template <class P>
const plan_spec& spec_of() noexcept;
template <class P>
inline constinit desc_slot desc_slot_of{&spec_of<P>, &build_slot_desc};

template <class E>
struct entity_loader;
template <class E>
class row_sink;

/// The follow-up loads (selectin, subquery, and those below joined children) of the objects
/// one statement hydrated into `n`.
LOADSTAR_DECL void post_load(load_context& ctx, const plan_desc& p, load_node& n, const tail* t);

/// A statement a follow-up load will run: its SQL and values.
struct batch {
    std::string sql;
    std::vector<value> params;
    std::string keys_sql;  // the key condition after the child key: " IN (?, ?)", " = ANY(?)"
};

/// The tail of the children of a relationship, built from the tail of its parents' rows: the
/// parents' keys as a subquery, joined to the child table.
LOADSTAR_DECL tail child_tail(const rel_names& r, const tail& t);
/// "SELECT child columns FROM child ... WHERE child key = ?": a lazy load of relationship `r`
/// with the child's plan `lp`.
LOADSTAR_DECL std::string lazy_sql(const rel_names& r, const plan_desc& lp);
/// "FROM child ... WHERE child key = ?": the tail a subquery load nested under a lazy load
/// builds on.
LOADSTAR_DECL std::string lazy_tail_sql(const rel_names& r);

}  // namespace loadstar::detail

#if defined(LOADSTAR_HEADER_ONLY)
#include <loadstar/impl/loader_keys.ipp>
#endif
