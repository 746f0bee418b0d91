// Unit tests for the balancing strategies and their registry.
#include "core/balance/balancer.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace lbd {
namespace {

// A pool's servers as a worker would hand them to rebuild().
struct TestPool {
    std::vector<std::unique_ptr<Server>> owned;
    std::vector<Server*> usable;

    Server* add(const std::string& name, uint32_t weight = 1, uint32_t max_connections = 0) {
        owned.push_back(std::make_unique<Server>("pool", name, SocketAddress{}, weight, max_connections));
        usable.push_back(owned.back().get());
        return usable.back();
    }
    // The usable list without `gone`, as after it went DOWN.
    std::vector<Server*> without(const Server* gone) const {
        std::vector<Server*> out;
        for (Server* s : usable)
            if (s != gone) out.push_back(s);
        return out;
    }
};

TestPool make_pool(int n, uint32_t weight = 1) {
    TestPool pool;
    for (int i = 0; i < n; ++i) pool.add("srv" + std::to_string(i), weight);
    return pool;
}

std::unique_ptr<Balancer> make(std::string_view name, uint32_t maglev_table_size = 65537) {
    register_builtin_balancers();
    BalancerOptions options;
    options.maglev_table_size = maglev_table_size;
    auto balancer = BalancerRegistry::create(name, options);
    REQUIRE(balancer != nullptr);
    return balancer;
}

Server* pick(Balancer& b, uint64_t client_hash = 0, std::span<const Server* const> excluded = {}) {
    PickContext ctx;
    ctx.client_hash = client_hash;
    ctx.excluded = excluded;
    return b.pick(ctx);
}

std::vector<uint64_t> random_hashes(size_t n) {
    std::mt19937_64 rng(42);  // fixed seed: the tests are deterministic
    std::vector<uint64_t> out(n);
    for (auto& h : out) h = rng();
    return out;
}

const std::vector<std::string> kBuiltins = {"least_conn", "maglev", "round_robin", "source_hash"};

// --- registry -------------------------------------------------------------

TEST_CASE("registry: knows the four built-in strategies") {
    register_builtin_balancers();
    register_builtin_balancers();  // idempotent
    CHECK(BalancerRegistry::names() == kBuiltins);
    for (const auto& name : kBuiltins) {
        CHECK(BalancerRegistry::has(name));
        CHECK(BalancerRegistry::create(name, BalancerOptions{}) != nullptr);
    }
}

TEST_CASE("registry: rejects unknown names") {
    register_builtin_balancers();
    CHECK_FALSE(BalancerRegistry::has("random"));
    CHECK_FALSE(BalancerRegistry::has(""));
    CHECK_FALSE(BalancerRegistry::has("Round_Robin"));
    CHECK(BalancerRegistry::create("random", BalancerOptions{}) == nullptr);
}

// --- contract shared by every strategy ------------------------------------

TEST_CASE("all strategies: empty server list gives nullptr") {
    for (const auto& name : kBuiltins) {
        CAPTURE(name);
        auto b = make(name, 101);
        CHECK(pick(*b, 7) == nullptr);
        b->rebuild({});
        CHECK(pick(*b, 7) == nullptr);
        // Emptied after having servers.
        TestPool pool = make_pool(3);
        b->rebuild(pool.usable);
        CHECK(pick(*b, 7) != nullptr);
        b->rebuild({});
        CHECK(pick(*b, 7) == nullptr);
    }
}

TEST_CASE("all strategies: all skipped gives nullptr") {
    for (const auto& name : kBuiltins) {
        CAPTURE(name);
        auto b = make(name, 101);
        TestPool pool;
        Server* a = pool.add("a", 2);
        Server* full = pool.add("full", 1, /*max_connections=*/1);
        Server* down = pool.add("down", 3);
        b->rebuild(pool.usable);
        REQUIRE(full->try_acquire_slot());
        down->set_health(HealthState::kDown, "test");
        const Server* excluded[] = {a};
        for (uint64_t h = 0; h < 200; ++h) CHECK(pick(*b, h * 0x9e3779b97f4a7c15ULL, excluded) == nullptr);
        full->release_slot();
    }
}

TEST_CASE("all strategies: never return an excluded, full or non-UP server") {
    for (const auto& name : kBuiltins) {
        CAPTURE(name);
        auto b = make(name, 1009);
        TestPool pool;
        for (int i = 0; i < 6; ++i) pool.add("s" + std::to_string(i), static_cast<uint32_t>(i % 3 + 1), 1);
        b->rebuild(pool.usable);
        REQUIRE(pool.usable[1]->try_acquire_slot());                        // full
        pool.usable[2]->set_admin_state(AdminState::kDrain, "test");         // not UP
        const Server* excluded[] = {pool.usable[3], pool.usable[5]};         // tried already
        std::map<const Server*, int> seen;
        for (uint64_t h : random_hashes(2000)) {
            Server* s = pick(*b, h, excluded);
            REQUIRE(s != nullptr);
            ++seen[s];
        }
        // least_conn always takes idle s4 (weight 2 against 1); the others use both.
        for (const auto& [s, n] : seen) CHECK((s == pool.usable[0] || s == pool.usable[4]));
        CHECK(seen.size() == (name == "least_conn" ? 1u : 2u));
        pool.usable[1]->release_slot();
    }
}

// --- round_robin ----------------------------------------------------------

std::string pick_names(Balancer& b, int n, std::span<const Server* const> excluded = {}) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        Server* s = pick(b, 0, excluded);
        out += s == nullptr ? "-" : s->name();
    }
    return out;
}

TEST_CASE("round_robin: smooth sequence for weights 5,1,1 is nginx's") {
    auto b = make("round_robin");
    TestPool pool;
    pool.add("a", 5);
    pool.add("b", 1);
    pool.add("c", 1);
    b->rebuild(pool.usable);
    CHECK(pick_names(*b, 14) == "aabacaaaabacaa");
}

TEST_CASE("round_robin: equal weights rotate in config order") {
    auto b = make("round_robin");
    TestPool pool;
    pool.add("a");
    pool.add("b");
    pool.add("c");
    b->rebuild(pool.usable);
    CHECK(pick_names(*b, 6) == "abcabc");
}

TEST_CASE("round_robin: picks are proportional to weights") {
    auto b = make("round_robin");
    TestPool pool;
    pool.add("a", 5);
    pool.add("b", 3);
    pool.add("c", 1);
    pool.add("d", 1);
    b->rebuild(pool.usable);
    std::map<std::string, int> count;
    for (int i = 0; i < 10000; ++i) ++count[pick(*b)->name()];
    // Exact: each cycle of sum(w) = 10 picks gives every server w turns.
    CHECK(count["a"] == 5000);
    CHECK(count["b"] == 3000);
    CHECK(count["c"] == 1000);
    CHECK(count["d"] == 1000);
}

TEST_CASE("round_robin: skipped servers are left out and the rest stay fair") {
    auto b = make("round_robin");
    TestPool pool;
    Server* a = pool.add("a", 2);
    Server* x = pool.add("x", 4);
    Server* c = pool.add("c", 1);
    b->rebuild(pool.usable);

    const Server* excluded[] = {x};
    std::map<const Server*, int> count;
    for (int i = 0; i < 300; ++i) ++count[pick(*b, 0, excluded)];
    CHECK(count[a] == 200);
    CHECK(count[c] == 100);
    CHECK(count[x] == 0);

    // Went DOWN since the last rebuild: skipped too.
    x->set_health(HealthState::kDown, "test");
    CHECK(pick_names(*b, 6) == "acaaca");
    x->set_health(HealthState::kUp, "test");
    count.clear();
    for (int i = 0; i < 700; ++i) ++count[pick(*b)];
    CHECK(count[a] == 200);
    CHECK(count[x] == 400);
    CHECK(count[c] == 100);
}

TEST_CASE("round_robin: rebuilds do not restart the rotation") {
    auto b = make("round_robin");
    TestPool pool = make_pool(3);
    std::map<const Server*, int> count;
    for (int i = 0; i < 30; ++i) {
        b->rebuild(pool.usable);  // e.g. a flapping server elsewhere in the pool
        ++count[pick(*b)];
    }
    for (Server* s : pool.usable) CHECK(count[s] == 10);
}

// --- least_conn -----------------------------------------------------------

void hold(Server* s, int n) {
    for (int i = 0; i < n; ++i) REQUIRE(s->try_acquire_slot());
}

void release_all(TestPool& pool) {
    for (Server* s : pool.usable)
        while (s->active_connections() > 0) s->release_slot();
}

TEST_CASE("least_conn: prefers the server with the fewest connections") {
    auto b = make("least_conn");
    TestPool pool;
    Server* a = pool.add("a");
    Server* bb = pool.add("b");
    Server* c = pool.add("c");
    b->rebuild(pool.usable);
    hold(a, 3);
    hold(bb, 1);
    hold(c, 2);
    for (int i = 0; i < 5; ++i) CHECK(pick(*b) == bb);
    const Server* excluded[] = {bb};
    CHECK(pick(*b, 0, excluded) == c);
    release_all(pool);
}

TEST_CASE("least_conn: connections are weighted") {
    auto b = make("least_conn");
    TestPool pool;
    Server* heavy = pool.add("heavy", 3);
    Server* light = pool.add("light", 1);
    b->rebuild(pool.usable);
    // (2+1)/3 = 1 < (1+1)/1 = 2: the heavy server takes more.
    hold(heavy, 2);
    hold(light, 1);
    CHECK(pick(*b) == heavy);
    release_all(pool);

    // Held connections settle at the weight ratio.
    for (int i = 0; i < 400; ++i) hold(pick(*b), 1);
    CHECK(std::abs(static_cast<int>(heavy->active_connections()) - 300) <= 1);
    CHECK(std::abs(static_cast<int>(light->active_connections()) - 100) <= 1);
    release_all(pool);
}

TEST_CASE("least_conn: equal servers share ties round robin") {
    auto b = make("least_conn");
    TestPool pool = make_pool(3);
    b->rebuild(pool.usable);
    // Nobody holds a connection, so every pick is a three-way tie.
    std::map<const Server*, int> count;
    for (int i = 0; i < 300; ++i) ++count[pick(*b)];
    for (Server* s : pool.usable) CHECK(count[s] == 100);
}

// --- source_hash ----------------------------------------------------------

TEST_CASE("source_hash: the same client hash gives the same server") {
    TestPool pool = make_pool(5);
    auto b1 = make("source_hash");
    auto b2 = make("source_hash");
    b1->rebuild(pool.usable);
    b2->rebuild(pool.usable);
    for (uint64_t h : random_hashes(1000)) {
        Server* s = pick(*b1, h);
        CHECK(pick(*b1, h) == s);
        CHECK(pick(*b2, h) == s);  // another worker agrees
    }
}

TEST_CASE("source_hash: clients spread evenly, and by weight") {
    const auto hashes = random_hashes(40000);
    {
        TestPool pool = make_pool(4);
        auto b = make("source_hash");
        b->rebuild(pool.usable);
        std::map<const Server*, int> count;
        for (uint64_t h : hashes) ++count[pick(*b, h)];
        for (Server* s : pool.usable) CHECK(std::abs(count[s] - 10000) < 500);  // 5%
    }
    {
        TestPool pool;
        Server* a = pool.add("a", 2);
        Server* bb = pool.add("b", 1);
        Server* c = pool.add("c", 1);
        auto b = make("source_hash");
        b->rebuild(pool.usable);
        std::map<const Server*, int> count;
        for (uint64_t h : hashes) ++count[pick(*b, h)];
        CHECK(std::abs(count[a] - 20000) < 1000);
        CHECK(std::abs(count[bb] - 10000) < 500);
        CHECK(std::abs(count[c] - 10000) < 500);
    }
}

TEST_CASE("source_hash: a skipped server's clients move deterministically, others stay") {
    TestPool pool = make_pool(4);
    auto b = make("source_hash");
    b->rebuild(pool.usable);
    Server* gone = pool.usable[2];
    const Server* excluded[] = {gone};
    for (uint64_t h : random_hashes(2000)) {
        Server* before = pick(*b, h);
        Server* after = pick(*b, h, excluded);
        REQUIRE(after != nullptr);
        CHECK(after != gone);
        if (before != gone) CHECK(after == before);
        CHECK(pick(*b, h, excluded) == after);
    }
}

// --- maglev ---------------------------------------------------------------

constexpr uint32_t kM = 65537;

// The lookup table, read through pick(): slot h answers client_hash h.
std::vector<const Server*> table_of(Balancer& b, uint32_t m = kM) {
    std::vector<const Server*> table(m);
    for (uint32_t h = 0; h < m; ++h) table[h] = pick(b, h);
    return table;
}

TEST_CASE("maglev: each server gets an equal share of the table") {
    for (int n : {3, 10, 100}) {
        CAPTURE(n);
        TestPool pool = make_pool(n);
        auto b = make("maglev");
        b->rebuild(pool.usable);
        std::map<const Server*, int> count;
        for (const Server* s : table_of(*b)) ++count[s];
        REQUIRE(count.size() == static_cast<size_t>(n));
        // The fill gives every server one slot per round, so shares differ
        // by at most one slot (paper 3.4).
        for (Server* s : pool.usable) {
            CHECK(count[s] >= static_cast<int>(kM) / n);
            CHECK(count[s] <= static_cast<int>(kM) / n + 1);
        }
    }
}

TEST_CASE("maglev: weights are honoured") {
    TestPool pool;
    for (uint32_t w = 1; w <= 4; ++w) pool.add("w" + std::to_string(w), w);
    auto b = make("maglev");
    b->rebuild(pool.usable);
    std::map<const Server*, int> count;
    for (const Server* s : table_of(*b)) ++count[s];
    for (Server* s : pool.usable) {
        const double expected = kM * s->weight() / 10.0;
        CHECK(std::abs(count[s] - expected) < expected * 0.01);
    }
}

TEST_CASE("maglev: equal weights of any size build the same table") {
    TestPool ones = make_pool(5, 1);
    TestPool sevens = make_pool(5, 7);
    auto b1 = make("maglev");
    auto b7 = make("maglev");
    b1->rebuild(ones.usable);
    b7->rebuild(sevens.usable);
    const auto t1 = table_of(*b1);
    const auto t7 = table_of(*b7);
    for (uint32_t h = 0; h < kM; ++h) REQUIRE(t1[h]->name() == t7[h]->name());
}

TEST_CASE("maglev: the table depends only on server names (HA nodes agree)") {
    // Two nodes: distinct Server objects, same names, different addresses.
    TestPool node1 = make_pool(10);
    TestPool node2;
    for (int i = 0; i < 10; ++i) {
        auto addr = SocketAddress::parse("10.0.0." + std::to_string(i + 1) + ":80");
        REQUIRE(addr.has_value());
        node2.owned.push_back(std::make_unique<Server>("pool", "srv" + std::to_string(i), *addr));
        node2.usable.push_back(node2.owned.back().get());
    }
    auto b1 = make("maglev");
    auto b2 = make("maglev");
    b1->rebuild(node1.usable);
    b2->rebuild(node2.usable);
    for (uint64_t h : random_hashes(20000)) REQUIRE(pick(*b1, h)->name() == pick(*b2, h)->name());

    // And rebuilding with the same servers changes nothing.
    const auto before = table_of(*b1);
    b1->rebuild(node1.usable);
    CHECK(table_of(*b1) == before);
}

TEST_CASE("maglev: removing a server moves little beyond its own clients") {
    TestPool pool = make_pool(10);
    auto b = make("maglev");
    b->rebuild(pool.usable);
    const auto hashes = random_hashes(100000);
    std::vector<const Server*> before;
    for (uint64_t h : hashes) before.push_back(pick(*b, h));

    Server* gone = pool.usable[3];
    b->rebuild(pool.without(gone));
    int moved_others = 0;
    for (size_t i = 0; i < hashes.size(); ++i) {
        const Server* now = pick(*b, hashes[i]);
        REQUIRE(now != gone);
        if (before[i] != gone && now != before[i]) ++moved_others;
    }
    INFO("clients of other servers moved: ", moved_others);
    CHECK(moved_others < 1000);  // < 1% of all clients (paper figure 12); ~0.2% here
}

TEST_CASE("maglev: adding a server takes about 1/N of the clients") {
    TestPool pool = make_pool(11);
    Server* added = pool.usable.back();
    auto b = make("maglev");
    b->rebuild(pool.without(added));
    const auto hashes = random_hashes(100000);
    std::vector<const Server*> before;
    for (uint64_t h : hashes) before.push_back(pick(*b, h));

    b->rebuild(pool.usable);
    int to_new = 0, between_old = 0;
    for (size_t i = 0; i < hashes.size(); ++i) {
        const Server* now = pick(*b, hashes[i]);
        if (now == added) ++to_new;
        else if (now != before[i]) ++between_old;
    }
    INFO("moved to the new server: ", to_new, ", between old servers: ", between_old);
    CHECK(std::abs(to_new - 100000 / 11) < 1000);
    CHECK(between_old < 1000);  // ~0.2% here
}

TEST_CASE("maglev: a skipped server's clients spread out, other clients stay") {
    TestPool pool = make_pool(10);
    auto b = make("maglev");
    b->rebuild(pool.usable);
    Server* gone = pool.usable[7];
    const Server* excluded[] = {gone};
    std::map<const Server*, int> new_home;
    for (uint64_t h : random_hashes(20000)) {
        Server* before = pick(*b, h);
        Server* after = pick(*b, h, excluded);
        REQUIRE(after != nullptr);
        REQUIRE(after != gone);
        if (before == gone) ++new_home[after];
        else CHECK(after == before);
    }
    CHECK(new_home.size() == 9);  // the next table slots belong to everyone
}

TEST_CASE("maglev: a table size that is not prime is rounded up to one") {
    TestPool pool = make_pool(4);
    auto b = make("maglev", 100);  // -> 101
    b->rebuild(pool.usable);
    for (uint64_t h = 0; h < 101; ++h) CHECK(pick(*b, h) == pick(*b, h + 101));
    int differ = 0;  // a table of 100 would repeat every 100
    for (uint64_t h = 0; h < 100; ++h) differ += pick(*b, h) != pick(*b, h + 100);
    CHECK(differ > 0);
}

TEST_CASE("maglev: more servers than slots still finds a usable one") {
    TestPool pool = make_pool(20);
    auto b = make("maglev", 7);
    b->rebuild(pool.usable);
    // Exclude every server that owns a slot: only slotless ones remain.
    std::vector<const Server*> owners;
    for (const Server* s : table_of(*b, 7)) owners.push_back(s);
    Server* s = pick(*b, 3, owners);
    REQUIRE(s != nullptr);
    for (const Server* o : owners) CHECK(s != o);
}

}  // namespace
}  // namespace lbd
