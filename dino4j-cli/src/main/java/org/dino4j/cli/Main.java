package org.dino4j.cli;

public final class Main {
    public static void main(String[] args) {
        System.out.println("dino4j");
    }
}
