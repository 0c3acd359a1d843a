package batch

import "os"

// createNamedSpool makes a spool file with a name and removes the name at
// once, where the system allows it (not Windows, with the file open):
// the file then goes with the process, however it ends. It returns the
// name when it is still there, to remove at Close; "" when gone.
func createNamedSpool(dir string) (*os.File, string, error) {
	f, err := os.CreateTemp(dir, ".sluice-spool-*")
	if err != nil {
		return nil, "", err
	}
	if os.Remove(f.Name()) == nil {
		return f, "", nil
	}
	return f, f.Name(), nil
}
