// loadstar/impl/convert.ipp - value conversions that are not templates: time text, the error of a bad read.
// Included by detail/convert.hpp (header-only, the default) or compiled once by
// <loadstar/src.hpp> (LOADSTAR_SEPARATE_COMPILATION; see detail/config.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <loadstar/detail/convert.hpp>

namespace loadstar::detail {

LOADSTAR_DECL std::string format_time(time_point tp) {
    using namespace std::chrono;
    const auto us = floor<microseconds>(tp);
    const auto day = floor<days>(us);
    const year_month_day ymd{day};
    const hh_mm_ss<microseconds> hms{us - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d.%06lld", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()),
                  static_cast<long long>(hms.subseconds().count()));
    return buf;
}

LOADSTAR_DECL bool parse_time(std::string_view s, time_point& out) {
    using namespace std::chrono;
    auto num = [&](std::size_t pos, std::size_t len, int& v) {
        if (pos + len > s.size()) return false;
        v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            v = v * 10 + (s[i] - '0');
        }
        return true;
    };
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!num(0, 4, y) || s.size() < 10 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' || !num(8, 2, d))
        return false;
    std::size_t pos = 10;
    long long micros = 0;
    if (pos < s.size()) {
        if ((s[pos] != ' ' && s[pos] != 'T') || !num(pos + 1, 2, h) || s.size() < pos + 9 ||
            s[pos + 3] != ':' || !num(pos + 4, 2, mi) || s[pos + 6] != ':' || !num(pos + 7, 2, sec))
            return false;
        pos += 9;
        if (pos < s.size() && s[pos] == '.') {
            ++pos;
            int digits = 0;
            while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                if (digits < 6) micros = micros * 10 + (s[pos] - '0');
                ++digits;
                ++pos;
            }
            if (digits == 0) return false;
            for (; digits < 6; ++digits) micros *= 10;
        }
        if (pos < s.size() && (s.substr(pos) == "Z" || s.substr(pos) == "+00" || s.substr(pos) == "+00:00"))
            pos = s.size();
        if (pos != s.size()) return false;
    }
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return false;
    out = time_point{duration_cast<system_clock::duration>(
        sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi} + seconds{sec} + microseconds{micros})};
    return true;
}

LOADSTAR_DECL void bad_read(std::string_view where, column_kind k, std::string_view into, std::string_view detail) {
    std::string msg = "loadstar: cannot read ";
    msg += kind_name(k);
    msg += " value";
    if (!detail.empty()) { msg += " "; msg += detail; }
    msg += " of column ";
    msg += where;
    msg += " into ";
    msg += into;
    throw conversion_error(msg);
}

LOADSTAR_DECL void bad_assign(std::string_view into, const value& v) {
    std::string msg = "loadstar: cannot store ";
    msg += to_display(v);
    msg += " into ";
    msg += into;
    throw conversion_error(msg);
}

}  // namespace loadstar::detail
