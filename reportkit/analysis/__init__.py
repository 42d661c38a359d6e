"""The figures and judgements a report states: statistics, norm checks and the claims wording
may make. Pure functions over a unit's tables; nothing here renders or writes files."""
