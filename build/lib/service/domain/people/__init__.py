"""The directory (schools, staff, users, phone numbers, tokens), who may do what, console sessions, texts from people, record access. Pure."""
