// Debian bookworm's JMeter 2.13 cannot load any plan: its XStream (1.4.20) allows only the types
// it is told to, and JMeter 2.13 predates that and tells it none ("ForbiddenClassException:
// org.apache.jmeter.save.ScriptWrapper"). The tests run that JMeter with these two classes put
// first on the boot class path (JAVA_ARGS=-Xbootclasspath/a:.jmeter/allow-types.jar, built by
// scripts/setup-test-env.sh): XStream's "no type" permission, which it sets first, then allows
// every type, as XStream did before 1.4.18. A JMeter of 5.x needs none of this.
package com.thoughtworks.xstream.security;

public interface TypePermission {
    boolean allows(Class type);
}
