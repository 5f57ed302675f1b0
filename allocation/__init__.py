"""Fair allocation of scarce places: the waitlist (first-come offices) and the lottery (offices
that allocate a period's places by a published draw). It sits beside `desk`, above
`appointments`, and learns of freed places from `appointments.signals`."""
