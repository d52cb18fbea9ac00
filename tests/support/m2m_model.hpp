// tests/support/m2m_model.hpp - a many-to-many mapped on both sides (back_populates both
// ways), so both holders own: the shape of the cycles the ownership and cycle tests exercise.
// SPDX-License-Identifier: MIT
#pragma once

#include "support/model.hpp"

#include <cstdint>
#include <string>

namespace own {
struct Course;
struct Student {
    std::int64_t id{};
    std::string name;
    ls::many<Course> courses;
};
struct Course {
    std::int64_t id{};
    std::string title;
    ls::many<Student> students;
};
}  // namespace own

template <>
struct loadstar::mapping<own::Student> {
    using S = own::Student;
    static constexpr auto table = ls::table("students",
        ls::column<&S::id>("id", ls::primary_key),
        ls::column<&S::name>("name"),
        ls::many_to_many<&S::courses>(ls::secondary("enrolments", "student_id", "course_id"),
                                      ls::back_populates<&own::Course::students>));
};
template <>
struct loadstar::mapping<own::Course> {
    using C = own::Course;
    static constexpr auto table = ls::table("courses",
        ls::column<&C::id>("id", ls::primary_key),
        ls::column<&C::title>("title"),
        ls::many_to_many<&C::students>(ls::secondary("enrolments", "course_id", "student_id"),
                                       ls::back_populates<&own::Student::courses>));
};
