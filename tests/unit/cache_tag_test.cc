// Purge by tag (issue 13): a zone's tag_header read from a response
// (cache_take_tags), the zone's tag index (CacheZone::purge_tag), whose
// entries go with their objects on eviction, replacement and every kind of
// purge, and the config checks of tag_header / strip_tag_header.
#include <doctest/doctest.h>

#include <string>

#include "core/config/config_loader.h"
#include "core/state/cache_store.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

CacheObjectPtr tagged_object(std::vector<std::string> tags, size_t body_bytes = 10) {
    auto object = std::make_shared<CacheObject>();
    object->status = 200;
    object->body = std::make_shared<const std::string>(body_bytes, 'x');
    object->tags = std::move(tags);
    return object;
}

CacheZoneConfig tag_zone(bool strip = true) {
    CacheZoneConfig config;
    config.name = "z";
    config.tag_header = "cache-tag";
    config.strip_tag_header = strip;
    return config;
}

TEST_CASE("tags: split on spaces and commas, every such header, duplicates once; stripped unless configured") {
    Headers headers = {{"Content-Type", "text/html"},
                       {"Cache-Tag", " product-42,category-7 ,, home"},
                       {"cache-tag", "product-42\tsale"}};
    Headers kept = headers;
    CHECK(cache_take_tags(tag_zone(), headers) ==
          std::vector<std::string>{"product-42", "category-7", "home", "sale"});
    CHECK(headers == Headers{{"Content-Type", "text/html"}});  // stripped: clients never see the tags
    CHECK(cache_take_tags(tag_zone(false), kept).size() == 4);
    CHECK(kept.size() == 3);  // strip_tag_header: false keeps them
    // A zone without a tag_header has no tags, and leaves the header alone.
    CacheZoneConfig plain;
    plain.name = "p";
    Headers untouched = {{"Cache-Tag", "a"}};
    CHECK(cache_take_tags(plain, untouched).empty());
    CHECK(untouched.size() == 1);
}

TEST_CASE("purge by tag removes exactly the objects carrying it, in every shard") {
    CacheZoneConfig config = tag_zone();
    config.max_bytes = 64ull << 20;  // several shards
    config.max_object_bytes = 64 * 1024;
    CacheZone zone(config);
    for (int i = 0; i < 100; ++i) {
        std::vector<std::string> tags = {"all", "item-" + std::to_string(i)};
        if (i % 10 == 0) tags.push_back("tenth");
        REQUIRE(zone.insert("http://a/" + std::to_string(i), tagged_object(tags)));
    }
    REQUIRE(zone.insert("http://a/untagged", tagged_object({})));
    CHECK(zone.tagged("tenth") == 10);
    CHECK(zone.purge_tag("tenth") == 10);
    CHECK(zone.find("http://a/10") == nullptr);
    CHECK(zone.find("http://a/11") != nullptr);
    CHECK(zone.tagged("tenth") == 0);
    CHECK(zone.tagged("item-10") == 0);  // the purged objects' other tags left the index too
    CHECK(zone.tagged("all") == 90);
    CHECK(zone.purge_tag("tenth") == 0);
    CHECK(zone.purge_tag("Item-11") == 0);  // tags are case-sensitive
    CHECK(zone.purge_tag("item-11") == 1);
    CHECK(zone.counters().purged == 11);
    CHECK(zone.purge_tag("all") == 89);
    CHECK(zone.objects() == 1);
    CHECK(zone.find("http://a/untagged") != nullptr);
}

TEST_CASE("tag index entries go with their objects: replacement, eviction, purge by key; bytes counted") {
    CacheZoneConfig config = tag_zone();
    config.max_bytes = 64 * 1024;
    config.max_object_bytes = 16 * 1024 - 1024;  // one shard of four such objects
    CacheZone zone(config);
    // Tags cost bytes: a zone cannot be filled with tags for free.
    CHECK(tagged_object({"t1", "t2"})->bytes() > tagged_object({})->bytes() + 4);

    REQUIRE(zone.insert("k", tagged_object({"old"})));
    REQUIRE(zone.insert("k", tagged_object({"new"})));  // replaced: the old object's tags go
    CHECK(zone.tagged("old") == 0);
    CHECK(zone.tagged("new") == 1);
    CHECK(zone.purge_tag("old") == 0);

    CHECK(zone.purge("k", false) == 1);  // a purge by key takes its tags too
    CHECK(zone.tagged("new") == 0);

    for (int i = 0; i < 4; ++i) REQUIRE(zone.insert("e" + std::to_string(i), tagged_object({"big"}, 14 * 1024)));
    REQUIRE(zone.insert("e4", tagged_object({"big"}, 14 * 1024)));  // evicts e0
    CHECK(zone.counters().evictions == 1);
    CHECK(zone.tagged("big") == 4);
    CHECK(zone.purge_tag("big") == 4);
    CHECK(zone.objects() == 0);
    CHECK(zone.bytes() == 0);
}

// CacheFill's pair for a response with Vary: the marker under the base key
// (carrying the variant's tags) and the variant under its own.
TEST_CASE("Vary markers are not counted as objects, stores or purges, and go with their variants' tag") {
    CacheZone zone(tag_zone());
    const std::string base = "http://a/page";
    const std::string gzip = base + kCacheVariantSeparator + "accept-encoding=gzip";
    const std::string br = base + kCacheVariantSeparator + "accept-encoding=br";
    auto marker = std::make_shared<CacheObject>();
    marker->vary = {"accept-encoding"};
    marker->tags = {"page"};
    REQUIRE(zone.insert(base, marker));
    REQUIRE(zone.insert(gzip, tagged_object({"page"})));
    REQUIRE(zone.insert(base, marker));  // each variant's fill stores the marker again
    REQUIRE(zone.insert(br, tagged_object({"page"})));
    CHECK(zone.objects() == 2);
    CHECK(zone.counters().stores == 2);
    CHECK(zone.bytes() > 0);
    CHECK(zone.purge(base, false) == 2);  // the two responses (and the marker)
    CHECK(zone.bytes() == 0);

    REQUIRE(zone.insert(base, marker));
    REQUIRE(zone.insert(gzip, tagged_object({"page"})));
    CHECK(zone.purge_tag("page") == 1);
    CHECK(zone.find(base) == nullptr);  // no marker left without its variants
    CHECK(zone.objects() == 0);
    CHECK(zone.bytes() == 0);
    CHECK(zone.counters().purged == 3);
}

std::string zone_config(const std::string& zone) {
    return "global {\n  cache_zones { name: \"z\"\n" + zone + "  }\n}\n"
           "listeners { name: \"web\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http { routes {\n pool: \"p\" cache { zone: \"z\" } } }\n}\n"
           "pools { name: \"p\" servers { name: \"s1\" address: \"127.0.0.1:9001\" } }\n";
}

TEST_CASE("tag_header config: a header name, lower-cased; strip_tag_header only with it; errors name the line") {
    test::expect_error_on_line(zone_config("    tag_header: \"Cache Tag\"\n"), "tag_header",
                               "cache zone 'z': bad tag_header name 'Cache Tag'");
    test::expect_error_on_line(zone_config("    strip_tag_header: false\n"), "strip_tag_header",
                               "cache zone 'z': strip_tag_header without a tag_header");
    ConfigLoadResult ok = load_config_text(zone_config("    tag_header: \"Surrogate-Key\"\n"), "test.conf");
    INFO(test::all_errors(ok));
    REQUIRE(ok.config.has_value());
    CHECK(ok.config->global.cache_zones.at(0).tag_header == "surrogate-key");
    CHECK(ok.config->global.cache_zones.at(0).strip_tag_header);
    ConfigLoadResult kept =
        load_config_text(zone_config("    tag_header: \"Surrogate-Key\"\n    strip_tag_header: false\n"), "test.conf");
    REQUIRE(kept.config.has_value());
    CHECK_FALSE(kept.config->global.cache_zones.at(0).strip_tag_header);
    ConfigLoadResult none = load_config_text(zone_config(""), "test.conf");
    REQUIRE(none.config.has_value());
    CHECK(none.config->global.cache_zones.at(0).tag_header.empty());
}

}  // namespace
}  // namespace lbd
