package config

func init() { providerBlocks["process"] = (*validator).process }

// process checks a provider's process block (nothing in it can be wrong but
// its place).
func (v *validator) process(path string, pr ProviderConfig) {
	if pr.Process != nil && pr.Type != "process" {
		v.p.at(path+".process", "only valid for type process")
	}
}
