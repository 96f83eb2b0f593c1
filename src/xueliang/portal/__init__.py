"""The TV service portal's content: government services, jobs, produce prices, the department
directory, notices, and the pinyin/T9 search over them (issue 17)."""
