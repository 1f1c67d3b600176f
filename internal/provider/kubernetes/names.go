package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Label and annotation keys on every object Paddock creates. Labels are for
// selecting (their values are sanitised and so may be lossy); annotations
// keep the exact values, which are what Paddock compares and reports.
const (
	labelManagedBy    = "app.kubernetes.io/managed-by"
	managedByValue    = "paddock"
	labelController   = "paddock.dev/controller-id"
	labelPool         = "paddock.dev/pool-id"
	labelInstance     = "paddock.dev/instance"
	annotController   = "paddock.dev/controller-id"
	annotPool         = "paddock.dev/pool-id"
	annotInstanceName = "paddock.dev/instance-name"
)

var (
	notLabelChar = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	notNameChar  = regexp.MustCompile(`[^a-z0-9-]+`)
)

// shortHash tells apart values that sanitising made equal.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// labelValue makes s a valid label value (at most 63 characters of
// [A-Za-z0-9._-], alphanumeric at both ends). A value that had to change gets
// a hash suffix, so two different inputs do not select each other's objects.
func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	v := notLabelChar.ReplaceAllString(s, "-")
	v = trimTo(v, validation.LabelValueMaxLength-9, "-._")
	if v == "" {
		return "x" + shortHash(s)
	}
	return v + "-" + shortHash(s)
}

// objectName maps an instance name to the name of its Pod or VMI: a DNS-1123
// label, because a VMI's name becomes the guest's host name. The mapping is
// deterministic, so Get and Delete by instance name find the object again.
func objectName(name string) string {
	if len(validation.IsDNS1123Label(name)) == 0 {
		return name
	}
	v := notNameChar.ReplaceAllString(strings.ToLower(name), "-")
	v = trimTo(v, validation.DNS1123LabelMaxLength-9, "-")
	if v == "" {
		return "x" + shortHash(name)
	}
	return v + "-" + shortHash(name)
}

// secretName is the per-instance Secret holding the instance token.
func secretName(objName string) string { return objName + "-boot" }

func trimTo(s string, n int, cut string) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Trim(s, cut)
}

// meta is the metadata every object of one instance carries.
func (p *Provider) meta(name, poolID string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      objectName(name),
		Namespace: p.opts.Namespace,
		Labels: map[string]string{
			labelManagedBy:  managedByValue,
			labelController: labelValue(p.opts.ControllerID),
			labelPool:       labelValue(poolID),
			labelInstance:   labelValue(name),
		},
		Annotations: map[string]string{
			annotController:   p.opts.ControllerID,
			annotPool:         poolID,
			annotInstanceName: name,
		},
	}
}

// selector lists this controller's objects.
func (p *Provider) selector() string {
	return labelManagedBy + "=" + managedByValue + "," + labelController + "=" + labelValue(p.opts.ControllerID)
}

// owned says whether an object is this controller's, by the exact annotation:
// the label alone could match another controller after sanitising.
func (p *Provider) owned(m metav1.Object) bool {
	return m.GetAnnotations()[annotController] == p.opts.ControllerID
}
