// The identity map's hash table (detail::dense_map) against std::unordered_map: random
// inserts, assigns, finds and erases (including erase while iterating) must agree exactly.
#include <loadstar/detail/dense_map.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>

namespace {

/// Runs the comparison; returns how many entries were left (so a case can see it did work).
template <class K, class MakeKey>
std::size_t agree_with_unordered_map(std::uint32_t seed, MakeKey make_key, std::uint32_t range = 700, int steps = 20000) {
    std::mt19937 rng(seed);
    loadstar::detail::dense_map<K, int> d;
    std::unordered_map<K, int> ref;
    for (int step = 0; step < steps; ++step) {
        const K k = make_key(rng() % range);
        switch (rng() % 5) {
        case 0:
        case 1: {
            const int v = static_cast<int>(rng());
            const bool fresh = d.emplace(k, v).second;
            REQUIRE(fresh == ref.emplace(k, v).second);
            break;
        }
        case 2: {
            const int v = static_cast<int>(rng());
            d.insert_or_assign(k, v);
            ref.insert_or_assign(k, v);
            break;
        }
        case 3: {
            auto it = d.find(k);
            REQUIRE((it != d.end()) == (ref.erase(k) == 1));
            if (it != d.end()) d.erase(it);
            break;
        }
        default: {
            auto it = d.find(k);
            auto rit = ref.find(k);
            REQUIRE((it == d.end()) == (rit == ref.end()));
            if (it != d.end()) {
                REQUIRE(it->first == k);
                REQUIRE(it->second == rit->second);
            }
        }
        }
        REQUIRE(d.size() == ref.size());
    }
    // Every entry reachable by its key, iteration covers each exactly once.
    std::size_t n = 0;
    for (auto& [k, v] : d) {
        REQUIRE(ref.at(k) == v);
        REQUIRE(d.find(k)->second == v);
        ++n;
    }
    REQUIRE(n == ref.size());
    // Erase while iterating: erase(it) hands back the entry moved into the hole, so the odd
    // values go and every even one is visited and kept.
    std::size_t visited = 0;
    for (auto it = d.begin(); it != d.end();) {
        ++visited;
        if (it->second % 2 != 0) it = d.erase(it);
        else ++it;
    }
    REQUIRE(visited == ref.size());
    std::erase_if(ref, [](const auto& kv) { return kv.second % 2 != 0; });
    REQUIRE(d.size() == ref.size());
    for (auto& [k, v] : ref) {
        auto it = d.find(k);
        REQUIRE(it != d.end());
        REQUIRE(it->second == v);
    }
    return d.size();
}

}  // namespace

TEST_CASE("dense_map agrees with std::unordered_map: sequential integer keys", "[nodb][identity_map]") {
    for (std::uint32_t seed = 1; seed <= 5; ++seed)
        REQUIRE(agree_with_unordered_map<std::int64_t>(seed, [](std::uint32_t i) { return std::int64_t{i} + 1; }) > 100);
}

TEST_CASE("dense_map agrees with std::unordered_map: keys that share their low bits", "[nodb][identity_map]") {
    // Multiples of 2^20 (identity std::hash): without mixing they would all want one slot.
    for (std::uint32_t seed = 1; seed <= 5; ++seed)
        REQUIRE(agree_with_unordered_map<std::int64_t>(seed, [](std::uint32_t i) { return std::int64_t{i} << 20; }) > 100);
}

TEST_CASE("dense_map agrees with std::unordered_map: string keys", "[nodb][identity_map]") {
    for (std::uint32_t seed = 1; seed <= 3; ++seed)
        REQUIRE(agree_with_unordered_map<std::string>(seed, [](std::uint32_t i) { return "key-" + std::to_string(i * 7919u); }) > 100);
}

TEST_CASE("dense_map agrees with std::unordered_map across many storage chunks", "[nodb][identity_map]") {
    // Thousands of live entries: the entry storage spans several chunks (chunked_vector), and
    // erase moves entries between them.
    REQUIRE(agree_with_unordered_map<std::int64_t>(11, [](std::uint32_t i) { return std::int64_t{i} + 1; }, 30000, 80000) > 5000);
    REQUIRE(agree_with_unordered_map<std::string>(12, [](std::uint32_t i) { return "key-" + std::to_string(i); }, 12000, 40000) > 2000);
}

TEST_CASE("dense_map emptied by erase is reusable", "[nodb][identity_map]") {
    loadstar::detail::dense_map<std::int64_t, std::string> d;
    for (std::int64_t i = 0; i < 1000; ++i) REQUIRE(d.emplace(i, std::to_string(i)).second);
    REQUIRE(d.size() == 1000);
    REQUIRE(d.find(999)->second == "999");
    REQUIRE(d.find(1000) == d.end());
    for (auto it = d.begin(); it != d.end();) it = d.erase(it);
    REQUIRE(d.empty());
    REQUIRE(d.find(5) == d.end());
    REQUIRE(d.emplace(5, "five").second);
    REQUIRE(d.find(5)->second == "five");
    REQUIRE_FALSE(d.emplace(5, "again").second);
    d.insert_or_assign(5, "assigned");
    REQUIRE(d.find(5)->second == "assigned");
}
