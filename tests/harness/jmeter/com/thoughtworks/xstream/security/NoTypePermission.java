// See TypePermission.java beside this file: why the tests' JMeter 2.13 loads this class.
package com.thoughtworks.xstream.security;

public class NoTypePermission implements TypePermission {
    public static final TypePermission NONE = new NoTypePermission();

    public boolean allows(Class type) {
        return true;
    }

    public int hashCode() {
        return 1;
    }

    public boolean equals(Object other) {
        return other != null && other.getClass() == NoTypePermission.class;
    }
}
