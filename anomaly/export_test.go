package anomaly

// The batch tests run in package anomaly_test with the detectors' public
// API; these are the unexported batch functions they also check.
var (
	ESD        = esd
	LevelShift = levelShift
)

type ESDOptions = esdOptions
