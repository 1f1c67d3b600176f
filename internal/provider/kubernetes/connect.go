package kubernetes

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// inClusterNamespaceFile is where Kubernetes tells a pod its namespace.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// RESTConfig loads the cluster connection: the kubeconfig file at path (with
// kubeContext, or its current context), or, when path is empty, the
// in-cluster service account. It also returns the namespace that config
// implies ("default" when it names none).
func RESTConfig(path, kubeContext string) (*rest.Config, string, error) {
	if path == "" {
		if kubeContext != "" {
			return nil, "", errors.New("kubernetes: a context needs a kubeconfig file")
		}
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("kubernetes: in-cluster config (set kubeconfig when paddock runs outside the cluster): %w", err)
		}
		ns := "default"
		if b, err := os.ReadFile(inClusterNamespaceFile); err == nil && strings.TrimSpace(string(b)) != "" {
			ns = strings.TrimSpace(string(b))
		}
		rc.UserAgent = "paddock"
		return rc, ns, nil
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes: kubeconfig %s: %w", path, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes: kubeconfig %s: %w", path, err)
	}
	rc.UserAgent = "paddock"
	return rc, ns, nil
}

// Clients makes the two clients the provider uses from a connection.
func Clients(rc *rest.Config) (corev1client.CoreV1Interface, dynamic.Interface, error) {
	core, err := corev1client.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: core client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: dynamic client: %w", err)
	}
	return core, dyn, nil
}
