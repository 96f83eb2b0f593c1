"""Hospital appointment booking (预约挂号): hospitals, departments, doctors, sessions with
numbered places, bookings held in the database so a place is never taken twice (issue 17)."""
