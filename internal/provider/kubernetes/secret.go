package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/paddock-ci/paddock/internal/provider"
)

// putSecret writes the instance's boot Secret. It runs only while the Pod or
// VMI does not exist, so a Secret left by an interrupted Create is rewritten
// with this call's token (the old one may have been revoked).
func (p *Provider) putSecret(ctx context.Context, spec provider.Spec, data map[string][]byte) error {
	secrets := p.opts.Core.Secrets(p.opts.Namespace)
	s := &corev1.Secret{ObjectMeta: p.meta(spec.Name, spec.PoolID), Type: corev1.SecretTypeOpaque, Data: data}
	s.Name = secretName(s.Name)
	_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return wrap("create secret", s.Name, err)
	}
	old, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return wrap("get secret", s.Name, err)
	}
	if !p.owned(old) {
		return fmt.Errorf("kubernetes: secret %s/%s exists and is not this controller's", p.opts.Namespace, s.Name)
	}
	old.Data, old.StringData = data, nil
	_, err = secrets.Update(ctx, old, metav1.UpdateOptions{})
	return wrap("update secret", s.Name, err)
}

// ownSecret makes the Secret a dependent of the machine object, so the
// cluster's garbage collector removes it even if Paddock never calls Delete.
// The owner's UID is known only after the owner exists, hence a patch.
func (p *Provider) ownSecret(ctx context.Context, objName string, owner metav1.OwnerReference) error {
	if owner.UID == "" {
		return fmt.Errorf("kubernetes: %s %s has no UID; cannot own its secret", owner.Kind, owner.Name)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{owner}}})
	if err != nil {
		return err
	}
	name := secretName(objName)
	_, err = p.opts.Core.Secrets(p.opts.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return wrap("set owner of secret", name, err)
}

// deleteSecret removes an instance's Secret if it is this controller's.
func (p *Provider) deleteSecret(ctx context.Context, objName string) error {
	secrets := p.opts.Core.Secrets(p.opts.Namespace)
	name := secretName(objName)
	s, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap("get secret", name, err)
	}
	if !p.owned(s) {
		return nil
	}
	return p.ignoreNotFound(secrets.Delete(ctx, name, deleteOptions(s.UID)), "delete secret", name)
}

// deleteOptions deletes in the foreground (dependents first) and only the
// object that was looked at: a same-named object created since is kept.
func deleteOptions(uid types.UID) metav1.DeleteOptions {
	fg := metav1.DeletePropagationForeground
	o := metav1.DeleteOptions{PropagationPolicy: &fg}
	if uid != "" {
		o.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	return o
}

func (p *Provider) ignoreNotFound(err error, op, name string) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return wrap(op, name, err)
}

func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("kubernetes: %s %s: %w", op, name, err)
}
